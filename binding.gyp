# node-gyp build of the Http.sys addon with MSVC on Windows. Elsewhere the
# target is empty: the package is pure JavaScript there (portable backend).
# C++ exceptions come from node-addon-api's node_addon_api_except_all target: it
# defines NAPI_CPP_EXCEPTIONS and _HAS_EXCEPTIONS=1 (Node's common.gypi sets
# _HAS_EXCEPTIONS=0 on Windows), turns on /EHsc, and with
# NODE_ADDON_API_CPP_EXCEPTIONS_ALL turns any C++ exception that reaches a
# JavaScript call (std::bad_alloc) into a JavaScript Error instead of terminate(). Every httpapi.dll function
# is resolved at run time, so nothing links against httpapi.lib.
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
          "dependencies": [
            "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
          ],
          "include_dirs": [
            "native"
          ],
          "defines": [
            "NAPI_VERSION=8",
            "NODE_ADDON_API_DISABLE_DEPRECATED",
            "_WIN32_WINNT=0x0A00",
            "WIN32_LEAN_AND_MEAN",
            "NOMINMAX",
            "UNICODE",
            "_UNICODE"
          ],
          "msvs_settings": {
            "VCCLCompilerTool": {
              "LanguageStandard": "stdcpp17",
              "AdditionalOptions": ["/W4"]
            }
          }
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
