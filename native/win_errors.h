// Turning Win32 error codes from the HTTP Server API into text a person can act on.
// Pure C++ (no Node-API), so the test program can check the sentences.
#pragma once

#include <cstdint>
#include <string>

namespace hsys {

struct ErrorText {
  std::string code;     // e.g. "ERROR_ACCESS_DENIED"
  std::string message;  // "<syscall> failed with 5 (ERROR_ACCESS_DENIED): <sentence>"
};

// Facts about the call that make the sentence specific.
struct ErrorContext {
  std::string prefix;   // URL prefix involved, if any
  std::string user;     // DOMAIN\user of this process, for the urlacl command
  std::string queueName;
};

// Symbolic name for a Win32 error code ("ERROR_<n>" when unknown).
std::string Win32ErrorName(uint32_t code);

ErrorText DescribeWin32Error(const std::string& syscall, uint32_t code, const ErrorContext& context);

}  // namespace hsys
