const api = require('../../utils/api')

Page({
  data: { scan: null, error: '' },

  onLoad () {
    wx.scanCode({
      success: (result) => this.resolve(api.codeFromScan(result.result)),
      fail: () => wx.navigateBack()
    })
  },

  async resolve (code) {
    try {
      // Answers the device and what may be done with it, or a blank code and may_bind.
      const scan = await api.call('GET', '/api/v1/scan/{code}', { path: { code } })
      this.setData({ scan, error: '' })
    } catch (problem) {
      // 404: no such code, or someone else's private device.
      this.setData({ error: problem.status === 404 ? 'This code is not known here.' : (problem.detail || problem.title) })
    }
  }
})
