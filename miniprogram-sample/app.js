// @ts-check
// Where the API is and which Mini Program this is (the app id picks the tenant).
App({
  globalData: {
    baseUrl: 'http://127.0.0.1:8080',
    appId: 'wxdemo0mini0app1'
  }
})
