// @ts-check
const api = require('../../utils/api')

Page({
  data: {
    id: '',
    /** @type {import('../../types/api').Schemas['CustomerWorkOrderDetail'] | null} */
    detail: null,
    mayRate: false,
    stars: 5,
    comment: '',
    error: ''
  },

  /** @param {Record<string, string | undefined>} query */
  onLoad (query) {
    this.setData({ id: query.id || '' })
    return this.load()
  },

  // The order with its timeline: each step, who (staff, you, the system) and when.
  async load () {
    try {
      const detail = await api.call('GET', '/api/v1/work-orders/{id}', { path: { id: this.data.id } })
      const mayRate = detail.work_order.status === 'completed' && !detail.work_order.rating
      this.setData({ detail, mayRate, error: '' })
    } catch (problem) {
      const p = /** @type {import('../../types/api').Problem} */ (problem)
      this.setData({ error: p.status === 404 ? 'No such order.' : (p.detail || p.title || '') })
    }
  },

  /** @param {{ detail: { value: number } }} event */
  setStars (event) { this.setData({ stars: event.detail.value }) },
  /** @param {{ detail: { value: string } }} event */
  setComment (event) { this.setData({ comment: event.detail.value }) },

  // Once, when completed; a low rating needs a reason (the comment).
  async rate () {
    try {
      await api.call('POST', '/api/v1/work-orders/{id}/rating', {
        path: { id: this.data.id },
        body: { stars: this.data.stars, comment: this.data.comment }
      })
      await this.load()
    } catch (problem) {
      const p = /** @type {import('../../types/api').Problem} */ (problem)
      this.setData({ error: (p.errors || []).map((e) => e.message).join('\n') || p.detail || p.title || '' })
    }
  }
})
