// The part of WeChat's Mini Program runtime this sample uses (the official typings,
// miniprogram-api-typings, cover all of it; these few lines keep `tsc` self-contained).

interface WxFail { errMsg: string }
interface WxCallbacks<T> { success?: (result: T) => void; fail?: (err: WxFail) => void }

interface WxResponse {
  statusCode: number
  data: unknown
  header: Record<string, string>
}

declare const wx: {
  request(options: {
    url: string
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
    data?: unknown
    header?: Record<string, string>
  } & WxCallbacks<WxResponse>): void
  /** multipart/form-data with the file as the part `name`; `data` is the body as text. */
  uploadFile(options: {
    url: string
    filePath: string
    name: string
    header?: Record<string, string>
    formData?: Record<string, string>
  } & WxCallbacks<{ statusCode: number; data: string }>): void
  login(options: WxCallbacks<{ code: string }>): void
  getStorageSync(key: string): any
  setStorageSync(key: string, value: unknown): void
  removeStorageSync(key: string): void
  scanCode(options: WxCallbacks<{ result: string }>): void
  chooseMedia(options: {
    count: number
    mediaType: Array<'image' | 'video'>
    sizeType?: Array<'original' | 'compressed'>
  } & WxCallbacks<{ tempFiles: Array<{ tempFilePath: string; size: number }> }>): void
  navigateTo(options: { url: string }): void
  redirectTo(options: { url: string }): void
  navigateBack(options?: { delta?: number }): void
}

interface GlobalData { baseUrl: string; appId: string }
declare function App(options: { globalData: GlobalData }): void
declare function getApp(): { globalData: GlobalData }

/** A page: `data`, `setData` and the page's own methods on `this`. */
interface PageInstance<D> {
  data: D
  setData(data: Partial<D>): void
}
declare function Page<D, M>(
  options: { data: D } & M & ThisType<PageInstance<D> & M>
): void
