#include "ferry/api/client/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <optional>

namespace ferry::api::client {
namespace {

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

CURL* Handle(void* p) { return static_cast<CURL*>(p); }

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Seconds(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + "s";
  return std::to_string(ms.count()) + "ms";
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(ToLower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Transfer {
  HttpResponse response;
  std::size_t max_bytes = 0;
  bool too_large = false;
  // Streaming state: whether the body is parsed as events, decided at its first byte.
  std::optional<SseParser> parser;
  bool decided = false;
  bool events = false;
  Status stream_status;
  // StreamBody: raw 2xx body pieces go here instead of the parser.
  const std::function<bool(std::string_view)>* on_chunk = nullptr;
  bool chunk_stopped = false;

  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) {
      // A new status line (after a 100 Continue, say) starts a new header block.
      t->response.headers.clear();
      auto space = line.find(' ');
      if (space != std::string_view::npos) {
        std::string_view code = line.substr(space + 1, 3);
        int status = 0;
        for (char c : code) {
          if (c < '0' || c > '9') break;
          status = status * 10 + (c - '0');
        }
        t->response.status = status;
      }
      return size * count;
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      t->response.headers[ToLower(Trim(line.substr(0, colon)))] = std::string(Trim(line.substr(colon + 1)));
    }
    return size * count;
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view chunk(data, size * count);
    if (t->parser && !t->decided) {
      t->decided = true;
      t->events = t->response.status >= 200 && t->response.status < 300 &&
                  ToLower(t->response.Header("content-type")).rfind("text/event-stream", 0) == 0;
    }
    if (t->on_chunk != nullptr && t->response.status >= 200 && t->response.status < 300) {
      if (!(*t->on_chunk)(chunk)) {
        t->chunk_stopped = true;
        return 0;  // aborts the transfer
      }
      return chunk.size();
    }
    if (t->events) {
      t->stream_status = t->parser->Feed(chunk);
      if (!t->stream_status.ok() || t->parser->stopped()) return 0;  // aborts the transfer
      return chunk.size();
    }
    if (t->response.body.size() + chunk.size() > t->max_bytes) {
      t->too_large = true;
      return 0;
    }
    t->response.body.append(chunk);
    return chunk.size();
  }
};

HttpClient::HttpClient(std::string base_url, HttpClientOptions options) : options_(std::move(options)) {
  auto normalized = NormalizeBaseUrl(base_url);
  if (normalized.ok()) {
    base_url_ = std::move(normalized).value();
  } else {
    base_url_ = std::move(base_url);
    base_url_status_ = normalized.status();
  }
  GlobalInit();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(Handle(curl_));
}

Result<std::string> HttpClient::NormalizeBaseUrl(std::string_view url) {
  std::string out(Trim(url));
  if (out.empty()) return InvalidArgument("server URL is empty", "server");
  for (unsigned char c : out) {
    if (c <= ' ' || c == 0x7f)
      return InvalidArgument("server URL \"" + out + "\" contains whitespace or control characters",
                             "server");
  }
  auto scheme_end = out.find("://");
  if (scheme_end == std::string::npos) {
    out = "http://" + out;
    scheme_end = 4;
  }
  std::string scheme = ToLower(std::string_view(out).substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return InvalidArgument("server URL \"" + out + "\" must start with http:// or https://", "server");
  }
  out = scheme + out.substr(scheme_end);
  std::string_view rest = std::string_view(out).substr(scheme.size() + 3);
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return InvalidArgument("server URL \"" + out + "\" has no host", "server");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument("server URL \"" + out + "\" must not have a query or fragment", "server");
  }
  while (out.back() == '/') out.pop_back();
  return out;
}

Result<HttpResponse> HttpClient::Request(std::string_view method, std::string_view path,
                                         std::string_view body, const Headers& headers) {
  Transfer transfer;
  return Perform(transfer, method, path, body, headers, /*stream=*/false);
}

Result<HttpResponse> HttpClient::Stream(std::string_view path, const Headers& headers,
                                        const SseParser::EventCallback& on_event) {
  Transfer transfer;
  transfer.parser.emplace(on_event);
  Headers with_accept = headers;
  with_accept.emplace_back("Accept", "text/event-stream");
  return Perform(transfer, "GET", path, {}, with_accept, /*stream=*/true);
}

Result<HttpResponse> HttpClient::StreamBody(std::string_view path, const Headers& headers,
                                            const std::function<bool(std::string_view)>& on_chunk) {
  Transfer transfer;
  transfer.on_chunk = &on_chunk;
  return Perform(transfer, "GET", path, {}, headers, /*stream=*/true);
}

Result<HttpResponse> HttpClient::Perform(Transfer& t, std::string_view method, std::string_view path,
                                         std::string_view body, const Headers& headers, bool stream) {
  if (!base_url_status_.ok()) return base_url_status_;
  if (curl_ == nullptr) return Internal("libcurl could not be initialised");
  CURL* curl = Handle(curl_);
  // Reset drops the previous request's options but keeps its live connection.
  curl_easy_reset(curl);
  t.max_bytes = options_.max_response_bytes;

  const std::string url = base_url_ + std::string(path);
  const std::string method_str(method);
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  if (stream) {
    long idle_seconds = std::max<long>(1, static_cast<long>(options_.idle_timeout.count() / 1000));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, idle_seconds);
  } else {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  }
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

  if (method_str == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method_str == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    if (!body.empty() || method_str == "POST" || method_str == "PUT" || method_str == "PATCH") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    }
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_str.c_str());
  }

  curl_slist* header_list = nullptr;
  // Without this curl waits for a 100 Continue before sending larger bodies.
  header_list = curl_slist_append(header_list, "Expect:");
  for (const auto& [name, value] : headers) {
    header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);

  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(header_list);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  curl_off_t connect_time = 0;
  curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_time);

  if (rc == CURLE_OK) return std::move(t.response);
  if (rc == CURLE_WRITE_ERROR) {
    if (t.too_large) {
      return ResourceExhausted("response from " + url + " is larger than " +
                               std::to_string(options_.max_response_bytes) + " bytes");
    }
    if (!t.stream_status.ok()) return t.stream_status.WithContext("stream from " + url);
    if (t.parser && t.parser->stopped()) return std::move(t.response);
    if (t.chunk_stopped) return std::move(t.response);
  }

  std::string detail;
  if (os_errno != 0) {
    detail = std::strerror(static_cast<int>(os_errno));
  } else if (error_buffer[0] != '\0') {
    detail = error_buffer;
  } else {
    detail = curl_easy_strerror(rc);
  }
  const bool connected = connect_time > 0 || t.response.status != 0;
  if (!connected) {
    return Unavailable("cannot reach ferry server at " + base_url_ + ": " + detail +
                       " — is `ferry server` running? (set --server or FERRY_SERVER)");
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    if (stream) {
      return Status(StatusCode::kDeadlineExceeded,
                    "stream from " + url + " went silent for " + Seconds(options_.idle_timeout));
    }
    return Status(StatusCode::kDeadlineExceeded, method_str + " " + url + " got no complete answer within " +
                                                     Seconds(options_.request_timeout));
  }
  return Unavailable("lost connection to ferry server at " + base_url_ + " during " + method_str + " " +
                     std::string(path) + ": " + detail);
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (unreserved || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace ferry::api::client
