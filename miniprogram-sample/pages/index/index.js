const api = require('../../utils/api')

Page({
  data: { me: null, devices: [], error: '' },

  async onLoad () {
    try {
      await api.login()
      const me = await api.call('GET', '/api/v1/me')
      const page = await api.call('GET', '/api/v1/devices', { query: { limit: 20 } })
      this.setData({ me, devices: page.items, error: '' })
    } catch (problem) {
      this.setData({ error: problem.detail || problem.title || 'login failed' })
    }
  },

  scan () {
    wx.navigateTo({ url: '/pages/scan/scan' })
  }
})
