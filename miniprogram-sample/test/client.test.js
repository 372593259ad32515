// The sample's API client (utils/api.js) against a real Baoxiu server, with a `wx` stub
// that does what WeChat's runtime does: wx.request over HTTP, wx.login handing out a code,
// storage in memory. tests/e2e starts a demo server and runs this with node's own test
// runner (no npm packages); by hand, against `make run`:
//   BAOXIU_BASE=http://127.0.0.1:8080 node --test miniprogram-sample/test/
const test = require('node:test')
const assert = require('node:assert')

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
