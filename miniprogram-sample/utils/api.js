// @ts-check
// The one way this sample talks to Baoxiu: OpenAPI paths, bearer tokens kept in storage,
// one refresh on 401, and problem+json errors passed on as { status, type, title, detail }.
// Every call is typed from openapi/openapi.json (types/api.d.ts): `npm run check`.

/**
 * @typedef {import('../types/api').Path} Path
 * @typedef {import('../types/api').Method} Method
 * @typedef {import('../types/api').Problem} Problem
 * @typedef {import('../types/api').Schemas} Schemas
 */

const TOKENS = 'baoxiu.tokens'

function baseUrl () {
  return getApp().globalData.baseUrl
}

/**
 * @param {string} template
 * @param {Record<string, string | number>} params
 */
function fillPath (template, params) {
  return template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]))
}

/** @param {string | undefined} accessToken @returns {Record<string, string>} */
function authorization (accessToken) {
  return accessToken ? { Authorization: 'Bearer ' + accessToken } : {}
}

/**
 * @param {Method} method
 * @param {string} url
 * @param {unknown} data
 * @param {string} [accessToken]
 * @returns {Promise<WxResponse>}
 */
function send (method, url, data, accessToken) {
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method,
      data,
      header: authorization(accessToken),
      success: resolve,
      fail: (err) => reject({ status: 0, type: 'network', title: err.errMsg })
    })
  })
}

/** @param {{ statusCode: number, data: unknown }} response @returns {Problem} */
function problem (response) {
  const body = /** @type {Partial<Schemas['Problem']>} */ (response.data || {})
  return { status: response.statusCode, type: body.type, title: body.title, detail: body.detail, errors: body.errors || undefined }
}

async function refresh () {
  const tokens = wx.getStorageSync(TOKENS)
  if (!tokens) return false
  const response = await send('POST', baseUrl() + '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token })
  if (response.statusCode !== 200) {
    wx.removeStorageSync(TOKENS)
    return false
  }
  wx.setStorageSync(TOKENS, response.data)
  return true
}

/**
 * Calls an operation by its path as the OpenAPI document writes it:
 * `call('GET', '/api/v1/scan/{code}', { path: { code }, query, body })`.
 * @template {Path} P
 * @template {import('../types/api').MethodOf<P>} M
 * @param {M} method
 * @param {P} template
 * @param {import('../types/api').Options<import('../types/api').Op<P, M>>} [options]
 * @returns {Promise<import('../types/api').Answer<import('../types/api').Op<P, M>>>}
 */
async function call (method, template, options = {}) {
  const url = baseUrl() + fillPath(template, options.path || {})
  const data = method === 'GET' ? options.query : options.body
  const tokens = wx.getStorageSync(TOKENS)
  let response = await send(method, url, data, tokens && tokens.access_token)
  if (response.statusCode === 401 && tokens && await refresh()) {
    response = await send(method, url, data, wx.getStorageSync(TOKENS).access_token)
  }
  if (response.statusCode >= 400) throw problem(response)
  return /** @type {any} */ (response.data)
}

/**
 * @param {string} filePath
 * @param {string} [accessToken]
 * @returns {Promise<{ statusCode: number, data: unknown }>}
 */
function sendFile (filePath, accessToken) {
  return new Promise((resolve, reject) => {
    wx.uploadFile({
      url: baseUrl() + '/api/v1/attachments',
      filePath,
      name: 'file',
      header: authorization(accessToken),
      success: (result) => {
        let data = result.data
        try { data = JSON.parse(result.data) } catch (_) {}
        resolve({ statusCode: result.statusCode, data })
      },
      fail: (err) => reject({ status: 0, type: 'network', title: err.errMsg })
    })
  })
}

/**
 * A photo (a path from wx.chooseMedia) as `POST /api/v1/attachments` stores it: the part
 * `file` of a multipart body, which wx.uploadFile sends.
 * @param {'POST'} method
 * @param {'/api/v1/attachments'} template
 * @param {string} filePath
 * @returns {Promise<Schemas['AttachmentResponse']>}
 */
async function upload (method, template, filePath) {
  void method; void template // the one multipart operation: wx.uploadFile posts to it
  const tokens = wx.getStorageSync(TOKENS)
  let response = await sendFile(filePath, tokens && tokens.access_token)
  if (response.statusCode === 401 && tokens && await refresh()) {
    response = await sendFile(filePath, wx.getStorageSync(TOKENS).access_token)
  }
  if (response.statusCode >= 400) throw problem(response)
  return /** @type {Schemas['AttachmentResponse']} */ (response.data)
}

// wx.login → POST /auth/wechat/mini-program; keeps the tokens, answers `me`.
async function login () {
  /** @type {{ code: string }} */
  const { code } = await new Promise((resolve, reject) => wx.login({ success: resolve, fail: reject }))
  const answer = await call('POST', '/api/v1/auth/wechat/mini-program', {
    body: { app_id: getApp().globalData.appId, code }
  })
  wx.setStorageSync(TOKENS, { access_token: answer.access_token, refresh_token: answer.refresh_token })
  return answer.me
}

/**
 * The code printed in a label: the last path segment of https://{host}/q/{code}, or the
 * scanned text itself for a bare code.
 * @param {string} text
 */
function codeFromScan (text) {
  const match = /\/q\/([^/?#]+)/.exec(text)
  return match ? decodeURIComponent(match[1]) : text.trim()
}

/**
 * Reports a fault on the scanned device: uploads the photos, then submits. A device with an
 * open order answers `{ duplicate }` and creates nothing until sent again with
 * `confirmDuplicate`.
 * @param {{ code: string, description: string, photos?: string[], contactPhone?: string, confirmDuplicate?: boolean }} report
 * @returns {Promise<{ order: Schemas['CustomerWorkOrderResponse'], trackingToken: string, photos: Schemas['AttachmentResponse'][] } | { duplicate: Schemas['OpenOrderSummary'] }>}
 */
async function reportFault (report) {
  /** @type {Schemas['AttachmentResponse'][]} */
  const photos = []
  for (const path of report.photos || []) photos.push(await upload('POST', '/api/v1/attachments', path))
  /** @type {Schemas['SubmitWorkOrderRequest']} */
  const body = { qr_code: report.code, fault_description: report.description, channel: 'mini_program', attachment_ids: photos.map(photo => photo.id) }
  if (report.contactPhone) body.contact_phone = report.contactPhone
  if (report.confirmDuplicate) body.confirm_duplicate = true
  const answer = await call('POST', '/api/v1/work-orders', { body })
  if ('duplicate_of' in answer) return { duplicate: answer.duplicate_of }
  return { order: answer.work_order, trackingToken: answer.tracking_token, photos }
}

module.exports = { call, upload, login, codeFromScan, reportFault }
