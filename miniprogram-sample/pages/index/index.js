// @ts-check
const api = require('../../utils/api')

Page({
  data: {
    /** @type {import('../../types/api').Schemas['MeResponse'] | null} */
    me: null,
    /** @type {import('../../types/api').Schemas['CustomerDeviceResponse'][]} */
    devices: [],
    error: ''
  },

  async onLoad () {
    try {
      await api.login()
      const me = await api.call('GET', '/api/v1/me')
      const page = await api.call('GET', '/api/v1/devices', { query: { limit: 20 } })
      this.setData({ me, devices: page.items, error: '' })
    } catch (problem) {
      const p = /** @type {import('../../types/api').Problem} */ (problem)
      this.setData({ error: p.detail || p.title || 'login failed' })
    }
  },

  scan () {
    wx.navigateTo({ url: '/pages/scan/scan' })
  },

  orders () {
    wx.navigateTo({ url: '/pages/orders/orders' })
  }
})
