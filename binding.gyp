# node-gyp build of the Http.sys addon with MSVC on Windows. Elsewhere the
# target is empty: the package is pure JavaScript there (portable backend).
{
  "targets": [
    {
      "target_name": "httpsys",
      "conditions": [
        ["OS=='win'", {
          "sources": [
            "native/addon.cc",
            "native/httpapi.cc",
            "native/js_values.cc",
            "native/request_queue.cc",
            "native/request_reader.cc",
            "native/response_builder.cc",
            "native/win_errors.cc"
          ],
          "include_dirs": [
            "<!(node -p \"require('node-addon-api').include_dir\")",
            "native"
          ],
          "defines": [
            "NAPI_VERSION=8",
            "NAPI_CPP_EXCEPTIONS",
            "NODE_ADDON_API_DISABLE_DEPRECATED",
            "_WIN32_WINNT=0x0A00",
            "WIN32_LEAN_AND_MEAN",
            "NOMINMAX",
            "UNICODE",
            "_UNICODE"
          ],
          "msvs_settings": {
            "VCCLCompilerTool": {
              "ExceptionHandling": 1,
              "AdditionalOptions": ["/std:c++17", "/W4"]
            }
          }
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
