// Copying a received HTTP_REQUEST into plain values on the thread-pool thread,
// so the JavaScript thread only turns them into objects.
#pragma once

#include "http_compat.h"

#include <cstdint>
#include <string>
#include <vector>

namespace hsys {

struct ParsedRequest {
  uint64_t id = 0;
  uint64_t connectionId = 0;
  uint64_t urlContext = 0;
  std::string method;
  std::string rawUrl;
  std::string host;
  std::string httpVersion;
  bool http2 = false;
  std::vector<std::string> headers;  // name0, value0, ...
  std::string remoteAddress;
  uint16_t remotePort = 0;
  std::string localAddress;
  uint16_t localPort = 0;
  bool secure = false;
  bool hasTls = false;
  SslProtocolInfo tls{};
  bool hasBody = false;
  std::vector<uint8_t> body;
  bool moreBody = false;
};

void ReadRequest(const HTTP_REQUEST_V2* request, ParsedRequest& out);

// Formats an IPv4/IPv6 SOCKADDR; "" with port 0 for anything else.
void FormatAddress(const SOCKADDR* address, std::string& text, uint16_t& port);

// "host:port" or "[v6]:port" -> host without the port.
std::string StripPort(const std::string& host);

}  // namespace hsys
