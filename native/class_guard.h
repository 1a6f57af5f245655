// Telling the addon's own objects apart when one arrives as an argument.
//
// napi_unwrap succeeds for any object this addon wrapped, and instanceof only
// follows the prototype chain: a UrlGroup whose prototype was swapped for
// RequestQueue.prototype passes both, and treating it as a RequestQueue reads
// foreign memory. Each class therefore tags its instances
// (napi_type_tag_object) and arguments are unwrapped only with the right tag.
// (Receivers need no such check: V8 refuses a method on an object its class
// did not construct with "Illegal invocation".)
#pragma once

#include <napi.h>

#include <string>

namespace hsys {

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

// Marks a freshly constructed instance of T.
template <typename T>
void TagInstance(const Napi::Value& self) {
  self.As<Napi::Object>().TypeTag(&T::kTypeTag);
}

// The T behind `value`, or a TypeError naming `what` when `value` is not a T made by this addon.
template <typename T>
T* UnwrapTagged(Napi::Env env, const Napi::Value& value, const std::string& what) {
  T* object = nullptr;
  if (value.IsObject() && value.As<Napi::Object>().CheckTypeTag(&T::kTypeTag)) {
    void* raw = nullptr;
    if (napi_unwrap(env, value, &raw) == napi_ok) object = static_cast<T*>(raw);
  }
  if (object == nullptr) ThrowType(env, what + " must be a " + T::kClassName + " created by this addon");
  return object;
}

}  // namespace hsys
