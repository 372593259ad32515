// The one way this sample talks to Baoxiu: OpenAPI paths, bearer tokens kept in storage,
// one refresh on 401, and problem+json errors passed on as { status, type, title, detail }.

const TOKENS = 'baoxiu.tokens'

function baseUrl () {
  return getApp().globalData.baseUrl
}

function fillPath (template, params) {
  return template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]))
}

function send (method, url, data, accessToken) {
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method,
      data,
      header: accessToken ? { Authorization: 'Bearer ' + accessToken } : {},
      success: resolve,
      fail: (err) => reject({ status: 0, type: 'network', title: err.errMsg })
    })
  })
}

function problem (response) {
  const body = response.data || {}
  return { status: response.statusCode, type: body.type, title: body.title, detail: body.detail }
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

// call('GET', '/api/v1/scan/{code}', { path: { code }, query, body })
async function call (method, template, options = {}) {
  const url = baseUrl() + fillPath(template, options.path || {})
  const data = method === 'GET' ? options.query : options.body
  const tokens = wx.getStorageSync(TOKENS)
  let response = await send(method, url, data, tokens && tokens.access_token)
  if (response.statusCode === 401 && tokens && await refresh()) {
    response = await send(method, url, data, wx.getStorageSync(TOKENS).access_token)
  }
  if (response.statusCode >= 400) throw problem(response)
  return response.data
}

// wx.login → POST /auth/wechat/mini-program; keeps the tokens, answers `me`.
async function login () {
  const { code } = await new Promise((resolve, reject) => wx.login({ success: resolve, fail: reject }))
  const answer = await call('POST', '/api/v1/auth/wechat/mini-program', {
    body: { app_id: getApp().globalData.appId, code }
  })
  wx.setStorageSync(TOKENS, { access_token: answer.access_token, refresh_token: answer.refresh_token })
  return answer.me
}

// The code printed in a label: the last path segment of https://{host}/q/{code}, or the
// scanned text itself for a bare code.
function codeFromScan (text) {
  const match = /\/q\/([^/?#]+)/.exec(text)
  return match ? decodeURIComponent(match[1]) : text.trim()
}

module.exports = { call, login, codeFromScan }
