// @ts-check
const api = require('../../utils/api')

const MAX_PHOTOS = 9

Page({
  data: {
    code: '',
    description: '',
    /** @type {string[]} */
    photos: [],
    /** @type {import('../../types/api').Schemas['OpenOrderSummary'] | null} */
    duplicate: null,
    sending: false,
    error: ''
  },

  /** @param {Record<string, string | undefined>} query */
  onLoad (query) {
    this.setData({ code: query.code || '' })
  },

  /** @param {{ detail: { value: string } }} event */
  describe (event) {
    this.setData({ description: event.detail.value })
  },

  choosePhotos () {
    wx.chooseMedia({
      count: MAX_PHOTOS - this.data.photos.length,
      mediaType: ['image'],
      sizeType: ['compressed'],
      success: (result) => this.setData({ photos: this.data.photos.concat(result.tempFiles.map((f) => f.tempFilePath)) })
    })
  },

  submit () { return this.send(false) },
  submitAnyway () { return this.send(true) },

  /** @param {boolean} confirmDuplicate */
  async send (confirmDuplicate) {
    this.setData({ sending: true, error: '' })
    try {
      const answer = await api.reportFault({
        code: this.data.code,
        description: this.data.description,
        photos: this.data.photos,
        confirmDuplicate
      })
      if ('duplicate' in answer) {
        // The device already has an open order: show it; "report anyway" sends again.
        this.setData({ duplicate: answer.duplicate, sending: false })
        return
      }
      wx.redirectTo({ url: '/pages/order/order?id=' + encodeURIComponent(answer.order.id) })
    } catch (problem) {
      const p = /** @type {import('../../types/api').Problem} */ (problem)
      const fields = (p.errors || []).map((e) => e.field + ': ' + e.message).join('\n')
      this.setData({ sending: false, error: fields || p.detail || p.title || 'not sent' })
    }
  },

  openDuplicate () {
    const duplicate = this.data.duplicate
    if (duplicate) wx.navigateTo({ url: '/pages/order/order?id=' + encodeURIComponent(duplicate.id) })
  }
})
