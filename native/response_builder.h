// Building the HTTP_RESPONSE and data chunks for HttpSendHttpResponse and
// HttpSendResponseEntityBody from plain values. Pure: no Node-API and no calls
// into Http.sys, so the test program checks the structures field by field.
#pragma once

#include "http_compat.h"

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace hsys {

struct Header {
  std::string name;
  std::string value;
};

struct Bytes {
  const uint8_t* data = nullptr;
  size_t length = 0;
};

struct ResponseSpec {
  int status = 200;
  bool hasReason = false;
  std::string reason;
  std::vector<Header> headers;
  std::vector<Bytes> body;
  std::vector<Header> trailers;
  bool moreData = false;
  bool opaque = false;
  bool disconnect = false;
};

struct BodySpec {
  std::vector<Bytes> body;
  std::vector<Header> trailers;
  bool moreData = false;
  bool disconnect = false;
};

// Owns every string and array the structures point into. Not copyable or
// movable: the pointers inside refer to its own members.
struct BuiltResponse {
  BuiltResponse() = default;
  BuiltResponse(const BuiltResponse&) = delete;
  BuiltResponse& operator=(const BuiltResponse&) = delete;

  HTTP_RESPONSE_V2 response{};
  ULONG flags = 0;
  std::vector<DataChunk> chunks;
  std::vector<HTTP_UNKNOWN_HEADER> unknownHeaders;
  std::vector<HTTP_UNKNOWN_HEADER> trailers;
  std::deque<std::string> strings;
};

struct BuiltBody {
  BuiltBody() = default;
  BuiltBody(const BuiltBody&) = delete;
  BuiltBody& operator=(const BuiltBody&) = delete;

  ULONG flags = 0;
  std::vector<DataChunk> chunks;
  std::vector<HTTP_UNKNOWN_HEADER> trailers;
  std::deque<std::string> strings;

  USHORT chunkCount() const { return static_cast<USHORT>(chunks.size()); }
  PHTTP_DATA_CHUNK chunkPointer() { return chunks.empty() ? nullptr : reinterpret_cast<PHTTP_DATA_CHUNK>(chunks.data()); }
};

// Id of a response header Http.sys keeps in KnownHeaders, or -1. Case-insensitive.
int KnownResponseHeaderId(const std::string& name);

// Standard reason phrase, or "" for codes without one.
const char* DefaultReason(int status);

// Header name is an RFC 9110 token that fits a USHORT length.
std::string CheckHeaderName(const std::string& name);
// Header value has no CR, LF or NUL and fits a USHORT length.
std::string CheckHeaderValue(const std::string& name, const std::string& value);

// Both return "" on success, else a sentence describing the bad input.
std::string BuildResponse(const ResponseSpec& spec, BuiltResponse& out);
std::string BuildBody(const BodySpec& spec, BuiltBody& out);

}  // namespace hsys
