#include "js_values.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace hsys {

namespace {
constexpr uint32_t kMaxListLength = 65535 * 2;
}

void ThrowType(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

Napi::Error Win32Error(Napi::Env env, const std::string& syscall, uint32_t code, const ErrorContext& context) {
  ErrorText text = DescribeWin32Error(syscall, code, context);
  Napi::Error error = Napi::Error::New(env, text.message);
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("winError", Napi::Number::New(env, code));
  error.Set("code", Napi::String::New(env, text.code));
  return error;
}

void ThrowWin32(Napi::Env env, const std::string& syscall, uint32_t code, const ErrorContext& context) {
  throw Win32Error(env, syscall, code, context);
}

Napi::Error ClosedError(Napi::Env env, const std::string& syscall, const std::string& what) {
  Napi::Error error = Napi::Error::New(env, syscall + " failed: " + what + " is closed.");
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("winError", Napi::Number::New(env, ERROR_INVALID_HANDLE));
  error.Set("code", Napi::String::New(env, "ERROR_INVALID_HANDLE"));
  return error;
}

Napi::Error UnsupportedError(Napi::Env env, const std::string& syscall, const std::string& what) {
  Napi::Error error = Napi::Error::New(
      env, what + " is not available on this host (see capabilities()); " + syscall +
               " is missing, or is only a stub here (for example under Wine).");
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("winError", Napi::Number::New(env, 50));
  error.Set("code", Napi::String::New(env, "ERROR_NOT_SUPPORTED"));
  return error;
}

std::wstring Widen(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  if (n <= 0) return std::wstring();
  std::wstring w(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), &w[0], n);
  return w;
}

std::string CurrentUser() {
  auto get = [](const wchar_t* name) {
    wchar_t buf[256];
    DWORD n = GetEnvironmentVariableW(name, buf, 256);
    if (n == 0 || n >= 256) return std::string();
    int len = WideCharToMultiByte(CP_UTF8, 0, buf, static_cast<int>(n), nullptr, 0, nullptr, nullptr);
    std::string s(static_cast<size_t>(len > 0 ? len : 0), '\0');
    if (len > 0) WideCharToMultiByte(CP_UTF8, 0, buf, static_cast<int>(n), &s[0], len, nullptr, nullptr);
    return s;
  };
  std::string user = get(L"USERNAME");
  if (user.empty()) return std::string();
  std::string domain = get(L"USERDOMAIN");
  return domain.empty() ? user : domain + "\\" + user;
}

uint64_t RequireId(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsBigInt()) ThrowType(env, std::string(what) + " must be a bigint");
  bool lossless = false;
  uint64_t id = value.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || id == 0) ThrowType(env, std::string(what) + " must be a bigint from 1 to 2^64 - 1");
  return id;
}

double RequireInteger(Napi::Env env, const Napi::Value& value, const char* what, double min, double max) {
  if (!value.IsNumber()) ThrowType(env, std::string(what) + " must be a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < min || d > max) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), " must be an integer from %.0f to %.0f", min, max);
    ThrowType(env, std::string(what) + buf);
  }
  return d;
}

std::string RequireString(Napi::Env env, const Napi::Value& value, const char* what, size_t maxBytes) {
  if (!value.IsString()) ThrowType(env, std::string(what) + " must be a string");
  std::string s = value.As<Napi::String>().Utf8Value();
  if (s.size() > maxBytes) ThrowType(env, std::string(what) + " is too long (at most " + std::to_string(maxBytes) + " bytes)");
  if (s.find('\0') != std::string::npos) ThrowType(env, std::string(what) + " must not contain NUL");
  return s;
}

Napi::Object RequireObject(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction()) ThrowType(env, std::string(what) + " must be an object");
  return value.As<Napi::Object>();
}

bool OptionalBool(Napi::Env env, const Napi::Object& object, const char* key) {
  Napi::Value v = object.Get(key);
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) ThrowType(env, std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::vector<Header> OptionalHeaderList(Napi::Env env, const Napi::Object& object, const char* key) {
  std::vector<Header> out;
  Napi::Value v = object.Get(key);
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) ThrowType(env, std::string(key) + " must be an array of strings [name, value, ...]");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  if (n % 2 != 0) ThrowType(env, std::string(key) + " must have an even length (name, value pairs)");
  if (n > kMaxListLength) ThrowType(env, std::string(key) + " has too many entries (at most 65535 pairs)");
  out.reserve(n / 2);
  for (uint32_t i = 0; i < n; i += 2) {
    Napi::Value name = a.Get(i);
    Napi::Value value = a.Get(i + 1);
    if (!name.IsString() || !value.IsString()) {
      ThrowType(env, std::string(key) + "[" + std::to_string(i) + "] and the entry after it must be strings");
    }
    Header h{name.As<Napi::String>().Utf8Value(), value.As<Napi::String>().Utf8Value()};
    std::string e = CheckHeaderName(h.name);
    if (e.empty()) e = CheckHeaderValue(h.name, h.value);
    if (!e.empty()) ThrowType(env, std::string(key) + ": " + e);
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<Napi::Value> OptionalByteViews(Napi::Env env, const Napi::Object& object, const char* key) {
  std::vector<Napi::Value> out;
  Napi::Value v = object.Get(key);
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) ThrowType(env, std::string(key) + " must be an array of Uint8Array");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  if (n > 65534) ThrowType(env, std::string(key) + " has too many chunks (at most 65534)");
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value item = a.Get(i);
    if (!item.IsTypedArray() || item.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowType(env, std::string(key) + "[" + std::to_string(i) + "] must be a Uint8Array");
    }
    out.push_back(item);
  }
  return out;
}

Bytes ViewBytes(Napi::Env env, const Napi::Value& view) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value arrayBuffer;
  size_t offset = 0;
  napi_status s = napi_get_typedarray_info(env, view, &type, &length, &data, &arrayBuffer, &offset);
  if (s != napi_ok || type != napi_uint8_array) ThrowType(env, "a body chunk is not a Uint8Array");
  Bytes b;
  b.data = static_cast<const uint8_t*>(data);
  b.length = data == nullptr ? 0 : length;
  return b;
}

}  // namespace hsys
