// @ts-check
const api = require('../../utils/api')

Page({
  data: {
    /** @type {import('../../types/api').Schemas['ScanResponse'] | null} */
    scan: null,
    mayReport: false,
    error: ''
  },

  onLoad () {
    wx.scanCode({
      success: (result) => this.resolve(api.codeFromScan(result.result)),
      fail: () => wx.navigateBack()
    })
  },

  /** @param {string} code */
  async resolve (code) {
    try {
      // Answers the device and what may be done with it, or a blank code and may_bind.
      const scan = await api.call('GET', '/api/v1/scan/{code}', { path: { code } })
      this.setData({ scan, mayReport: scan.actions.includes('report_fault'), error: '' })
    } catch (problem) {
      // 404: no such code, or someone else's private device.
      const p = /** @type {import('../../types/api').Problem} */ (problem)
      this.setData({ error: p.status === 404 ? 'This code is not known here.' : (p.detail || p.title || '') })
    }
  },

  report () {
    const scan = this.data.scan
    if (scan) wx.navigateTo({ url: '/pages/report/report?code=' + encodeURIComponent(scan.code) })
  }
})
