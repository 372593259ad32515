// @ts-check
const api = require('../../utils/api')

Page({
  data: {
    /** @type {import('../../types/api').Schemas['CustomerWorkOrderResponse'][]} */
    orders: [],
    /** @type {string | null | undefined} */
    next: null,
    error: ''
  },

  onShow () {
    this.setData({ orders: [], next: null })
    return this.more()
  },

  // Newest first, a page at a time (keyset cursor).
  async more () {
    try {
      const query = this.data.next ? { limit: 20, cursor: this.data.next } : { limit: 20 }
      const page = await api.call('GET', '/api/v1/work-orders', { query })
      this.setData({ orders: this.data.orders.concat(page.items), next: page.next_cursor, error: '' })
    } catch (problem) {
      const p = /** @type {import('../../types/api').Problem} */ (problem)
      this.setData({ error: p.detail || p.title || '' })
    }
  },

  /** @param {{ currentTarget: { dataset: { id: string } } }} event */
  open (event) {
    wx.navigateTo({ url: '/pages/order/order?id=' + encodeURIComponent(event.currentTarget.dataset.id) })
  }
})
