// Checking JavaScript arguments (every mistake becomes a TypeError) and
// turning Win32 failures into Error objects with syscall, winError and code.
#pragma once

#include <napi.h>

#include "http_compat.h"
#include "response_builder.h"
#include "win_errors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace hsys {

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

Napi::Error Win32Error(Napi::Env env, const std::string& syscall, uint32_t code, const ErrorContext& context = {});
[[noreturn]] void ThrowWin32(Napi::Env env, const std::string& syscall, uint32_t code,
                             const ErrorContext& context = {});
// "<syscall> failed: <what> is closed." with winError 6 (ERROR_INVALID_HANDLE): a call on an object already closed.
Napi::Error ClosedError(Napi::Env env, const std::string& syscall, const std::string& what);
// An Error with winError 50 (ERROR_NOT_SUPPORTED) for features this host lacks.
Napi::Error UnsupportedError(Napi::Env env, const std::string& syscall, const std::string& what);

std::wstring Widen(const std::string& utf8);
// DOMAIN\user of this process, for the urlacl command in error messages.
std::string CurrentUser();

uint64_t RequireId(Napi::Env env, const Napi::Value& value, const char* what);
// An integer number in [min, max].
double RequireInteger(Napi::Env env, const Napi::Value& value, const char* what, double min, double max);
std::string RequireString(Napi::Env env, const Napi::Value& value, const char* what, size_t maxBytes);
bool OptionalBool(Napi::Env env, const Napi::Object& object, const char* key);
// Flat [name0, value0, ...] list of strings (undefined -> empty).
std::vector<Header> OptionalHeaderList(Napi::Env env, const Napi::Object& object, const char* key);
// Array of Uint8Array. Returns the typed arrays; bytes are read with ViewBytes
// after every property getter has run.
std::vector<Napi::Value> OptionalByteViews(Napi::Env env, const Napi::Object& object, const char* key);
Bytes ViewBytes(Napi::Env env, const Napi::Value& view);
Napi::Object RequireObject(Napi::Env env, const Napi::Value& value, const char* what);

}  // namespace hsys
