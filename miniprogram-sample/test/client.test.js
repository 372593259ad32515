// The sample's API client (utils/api.js) against a real Baoxiu server, with a `wx` stub
// that does what WeChat's runtime does: wx.request over HTTP, wx.login handing out a code,
// storage in memory. tests/e2e starts a demo server and runs this with node's own test
// runner (no npm packages at run time); by hand, against `make run`:
//   BAOXIU_BASE=http://127.0.0.1:8080 node --test miniprogram-sample/test/
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const base = process.env.BAOXIU_BASE
assert.ok(base, 'BAOXIU_BASE names the server, e.g. http://127.0.0.1:8080')

const storage = new Map()
global.getApp = () => ({ globalData: { baseUrl: base, appId: 'wxdemo0mini0app1' } })
global.wx = {
  login: ({ success }) => success({ code: 'sample-client-test' }),
  getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
  setStorageSync: (key, value) => storage.set(key, value),
  removeStorageSync: (key) => storage.delete(key),
  // Like WeChat: GET data becomes the query string, other data a JSON body.
  request: ({ url, method, data, header, success, fail }) => {
    const isGet = method === 'GET'
    const query = isGet && data ? '?' + new URLSearchParams(data) : ''
    const headers = { ...header }
    if (!isGet && data !== undefined) headers['content-type'] = 'application/json'
    fetch(url + query, { method, headers, body: !isGet && data !== undefined ? JSON.stringify(data) : undefined })
      .then(async (response) => {
        const text = await response.text()
        let body = text
        try { body = JSON.parse(text) } catch (_) {}
        success({ statusCode: response.status, data: body, header: Object.fromEntries(response.headers) })
      })
      .catch((err) => fail({ errMsg: String(err) }))
  },
  // Like WeChat: the file at filePath as the multipart part `name`; data arrives as text.
  uploadFile: ({ url, filePath, name, header, success, fail }) => {
    const form = new FormData()
    form.append(name, new Blob([fs.readFileSync(filePath)]), path.basename(filePath))
    fetch(url, { method: 'POST', headers: { ...header }, body: form })
      .then(async (response) => success({ statusCode: response.status, data: await response.text() }))
      .catch((err) => fail({ errMsg: String(err) }))
  }
}

const api = require('../utils/api')

test('wx.login signs in to the demo tenant and /me says what the user may do', async () => {
  const me = await api.login()
  assert.ok(me.user_id)
  assert.strictEqual(me.registration_state, 'unregistered')
  const whoami = await api.call('GET', '/api/v1/me')
  assert.strictEqual(whoami.kind, 'terminal')
  assert.strictEqual(whoami.tenant.slug, 'demo')
  assert.strictEqual(whoami.terminal.user_id, me.user_id)
})

test('a scanned label URL resolves to the device and what may be done with it', async () => {
  await api.login()
  const code = api.codeFromScan('https://demo.baoxiu.localhost/q/DM00002')
  assert.strictEqual(code, 'DM00002')
  const scan = await api.call('GET', '/api/v1/scan/{code}', { path: { code } })
  assert.strictEqual(scan.kind, 'device')
  assert.strictEqual(scan.device.serial_no, 'DEMO-0002')
  assert.ok(scan.actions.includes('report_fault'), JSON.stringify(scan.actions))
  const page = await api.call('GET', '/api/v1/devices', { query: { limit: 20 } })
  assert.ok(page.items.some((device) => device.serial_no === 'DEMO-0002'))
})

test('errors arrive as problems: someone else\'s private device is not known', async () => {
  await api.login()
  await assert.rejects(
    api.call('GET', '/api/v1/scan/{code}', { path: { code: 'DM00001' } }),
    (problem) => problem.status === 404 && problem.type === 'not-found'
  )
})

test('an access token the server refuses is refreshed once, and the call goes through', async () => {
  await api.login()
  const before = wx.getStorageSync('baoxiu.tokens')
  wx.setStorageSync('baoxiu.tokens', { ...before, access_token: 'expired-or-garbage' })
  const whoami = await api.call('GET', '/api/v1/me')
  assert.strictEqual(whoami.kind, 'terminal')
  const after = wx.getStorageSync('baoxiu.tokens')
  assert.notStrictEqual(after.refresh_token, before.refresh_token, 'the refresh token rotated')
})

// The staff side of the journey, straight over HTTP (it is not the sample's): the demo
// tenant's admin and engineer.
async function staff (mobile) {
  const response = await fetch(base + '/api/v1/auth/staff/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': 'demo' },
    body: JSON.stringify({ mobile, password: 'baoxiu-demo' })
  })
  assert.strictEqual(response.status, 200)
  const token = (await response.json()).access_token
  return async (method, url, body) => {
    const answer = await fetch(base + url, {
      method,
      headers: { authorization: 'Bearer ' + token, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined
    })
    const json = await answer.json()
    assert.ok(answer.status < 300, method + ' ' + url + ': ' + answer.status + ' ' + JSON.stringify(json))
    return json
  }
}

// A 1x1 PNG, as wx.chooseMedia hands the page a temporary file.
function photoFile () {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'baoxiu-sample-')), 'photo.png')
  fs.writeFileSync(file, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64'))
  return file
}

test('the customer journey: scan, report a fault with a photo, follow it, rate it once', async () => {
  await api.login()
  const scan = await api.call('GET', '/api/v1/scan/{code}', { path: { code: api.codeFromScan('https://demo.baoxiu.localhost/q/DM00002') } })
  assert.ok(scan.actions.includes('report_fault'))

  // Report a fault (pages/report): the photo is uploaded, the order submitted.
  const report = { code: scan.code, description: 'It beeps and leaks', photos: [photoFile()], contactPhone: '13900000009' }
  const sent = await api.reportFault(report)
  assert.ok(sent.order, JSON.stringify(sent))
  assert.strictEqual(sent.order.status, 'pending')
  assert.strictEqual(sent.order.channel, 'mini_program')
  assert.strictEqual(sent.order.serial_no, 'DEMO-0002')
  assert.match(sent.order.number, /^[A-Z0-9]+-\d{8}-\d{5}$/)
  assert.strictEqual(sent.photos.length, 1)
  assert.strictEqual(sent.photos[0].content_type, 'image/png')
  const photo = await fetch(base + sent.photos[0].url, { headers: { authorization: 'Bearer ' + wx.getStorageSync('baoxiu.tokens').access_token } })
  assert.strictEqual(photo.status, 200)
  assert.strictEqual(photo.headers.get('content-type'), 'image/png')

  // The same machine again: the open order is answered, nothing is created.
  const again = await api.reportFault({ ...report, photos: [] })
  assert.deepStrictEqual(again.duplicate && [again.duplicate.id, again.duplicate.number], [sent.order.id, sent.order.number])

  // My orders (pages/orders): newest first.
  const mine = await api.call('GET', '/api/v1/work-orders', { query: { limit: 20 } })
  assert.strictEqual(mine.items[0].id, sent.order.id)
  assert.strictEqual(mine.items.filter((o) => o.status === 'pending' && o.serial_no === 'DEMO-0002').length, 1)

  // Not completed yet: no rating.
  await assert.rejects(
    api.call('POST', '/api/v1/work-orders/{id}/rating', { path: { id: sent.order.id }, body: { stars: 5 } }),
    (problem) => problem.status === 409 || problem.status === 422
  )

  // Staff accept and assign; the engineer checks in and completes.
  const admin = await staff('13800000001')
  const engineer = await staff('13800000002')
  const team = await admin('GET', '/api/v1/admin/staff')
  const engineerId = team.items.find((s) => s.mobile === '13800000002').id
  await admin('POST', `/api/v1/admin/work-orders/${sent.order.id}/transitions`, { action: 'accept' })
  await admin('POST', `/api/v1/admin/work-orders/${sent.order.id}/transitions`, { action: 'assign', engineer_id: engineerId })
  await engineer('POST', `/api/v1/engineer/work-orders/${sent.order.id}/check-in`, { latitude: 22.54, longitude: 114.06 })
  await engineer('POST', `/api/v1/engineer/work-orders/${sent.order.id}/check-out`, { latitude: 22.54, longitude: 114.06, note: 'pump replaced' })

  // The detail (pages/order): the timeline shows each step, with who and when.
  const detail = await api.call('GET', '/api/v1/work-orders/{id}', { path: { id: sent.order.id } })
  assert.strictEqual(detail.work_order.status, 'completed')
  assert.deepStrictEqual(detail.timeline.map((step) => step.to_status).filter((s, i, all) => s !== all[i - 1]),
    ['pending', 'accepted', 'assigned', 'in_progress', 'completed'])
  assert.strictEqual(detail.timeline[0].actor_kind, 'terminal')
  assert.ok(detail.timeline.slice(1).every((step) => step.actor_kind === 'staff'), JSON.stringify(detail.timeline))
  assert.ok(detail.timeline.every((step) => !Number.isNaN(Date.parse(step.at))))

  // Rated once; a second rating is refused.
  await api.call('POST', '/api/v1/work-orders/{id}/rating', { path: { id: sent.order.id }, body: { stars: 5, comment: 'quick and tidy' } })
  const rated = await api.call('GET', '/api/v1/work-orders/{id}', { path: { id: sent.order.id } })
  assert.strictEqual(rated.work_order.rating.stars, 5)
  assert.strictEqual(rated.timeline.at(-1).action, 'rate')
  await assert.rejects(
    api.call('POST', '/api/v1/work-orders/{id}/rating', { path: { id: sent.order.id }, body: { stars: 1, comment: 'changed my mind' } }),
    (problem) => problem.status === 409 || problem.status === 422
  )
})
