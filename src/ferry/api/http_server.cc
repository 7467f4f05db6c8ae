#include "ferry/api/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ferry/api/errors.h"
#include "ferry/api/request_id.h"
#include "ferry/common/logging.h"
#include "ferry/common/memory.h"

namespace ferry::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Large enough for long label selectors and continue tokens, small enough
// that a connection's header costs little memory.
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kFirstReadBytes = 16 * 1024;
// After an error response sent before the request was fully read, the rest
// of the request is read and discarded for up to this long so that the
// client sees the response rather than a connection reset.
constexpr std::chrono::seconds kMaxLinger{5};
// Pause after a failed accept (e.g. out of file descriptors) so the accept
// loop does not spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
constexpr std::size_t kMaxLoggedPathBytes = 1024;
// Request or response bodies from this size on leave enough freed heap
// behind to be worth a ReleaseFreeMemory.
constexpr std::size_t kTrimAfterBytes = 1024 * 1024;

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  for (std::string_view m : kKnown)
    if (m == method) return m;
  return "OTHER";
}

// Beast 1.74 speaks boost::string_view.
std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

class Connection;

}  // namespace

struct HttpServer::Core {
  Core(const ApiOptions& opts, const Router* r, Env* e, int io, int handlers)
      : options(opts),
        router(*r),
        env(*e),
        io_threads(io),
        ioc(io),
        pool(static_cast<std::size_t>(handlers)),
        acceptor(net::make_strand(ioc)),
        accept_timer(acceptor.get_executor()) {}

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Shutdown(std::chrono::milliseconds drain);

  // The transport's own error responses (413, 404, 405, 503, malformed
  // requests), in the served surface's error shape (ApiOptions::error_body).
  HttpResponse Error(const ApiError& error) const { return Styled(ErrorResponse(error), error); }
  HttpResponse Error(const HttpRequest& request, const Status& status) const {
    return Styled(ErrorResponse(request, status), ToApiError(status));
  }
  HttpResponse Styled(HttpResponse response, const ApiError& error) const {
    if (options.error_body) response.body = options.error_body(error);
    return response;
  }

  const ApiOptions options;
  const Router& router;
  Env& env;
  const int io_threads;
  std::string url;

  MetricFamily<Counter>* requests_total = nullptr;
  MetricFamily<Histogram>* request_duration = nullptr;
  Gauge* in_flight = nullptr;
  Gauge* connections_open = nullptr;

  // Requests admitted to the worker pool, running or queued.
  std::atomic<std::size_t> pooled{0};
  std::atomic<std::size_t> open_connections{0};

  std::mutex shutdown_mu;  // serialises Shutdown calls
  bool shut_down = false;  // guarded by shutdown_mu

  std::mutex mu;
  std::condition_variable sessions_changed;
  bool stopping = false;  // guarded by mu; also mirrored in stopping_flag
  std::atomic<bool> stopping_flag{false};
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> sessions;  // guarded by mu
  // A ReleaseFreeMemory is queued on the pool (at most one at a time).
  std::atomic<bool> trim_pending{false};

  // Declared last among what connections use: destroying the io_context
  // and the pool destroys pending handlers, and with them the connections,
  // whose destructors still touch the members above.
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  net::thread_pool pool;
  tcp::acceptor acceptor;
  net::steady_timer accept_timer;
  std::vector<std::thread> threads;
};

namespace {

using Core = HttpServer::Core;

// One client connection: reads requests one at a time, dispatches them, and
// writes responses (or an event stream). Every method runs on the
// connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Core& core, tcp::socket socket)
      : core_(core), stream_(std::move(socket)), keepalive_timer_(stream_.get_executor()) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      std::string address = endpoint.address().to_string();
      if (endpoint.address().is_v6()) address = "[" + address + "]";
      remote_ = address + ":" + std::to_string(endpoint.port());
    }
    core_.open_connections.fetch_add(1);
    core_.connections_open->Add(1);
  }

  ~Connection() {
    core_.connections_open->Add(-1);
    core_.open_connections.fetch_sub(1);
    std::lock_guard lock(core_.mu);
    core_.sessions.erase(this);
    core_.sessions_changed.notify_all();
  }

  // Registers the connection and starts reading; `over_capacity` answers
  // 503 and closes instead.
  void Start(bool over_capacity) {
    bool stopping;
    {
      std::lock_guard lock(core_.mu);
      core_.sessions[this] = weak_from_this();
      stopping = core_.stopping;
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), over_capacity, stopping] {
      if (stopping) return self->Close();
      if (over_capacity) return self->RejectOverCapacity();
      self->WaitForRequest();
    });
  }

  // Graceful stop for shutdown: idle connections close now, a request in
  // progress finishes (its response says Connection: close), a stream ends.
  void Stop() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->state_ == State::kIdle)
        self->Close();
      else if (self->state_ == State::kStreaming)
        self->EndStream();
    });
  }

  void ForceClose() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kStreaming, kLingering, kClosed };

  struct Exchange {
    bool active = false;
    std::chrono::steady_clock::time_point start;
    std::string method = "OTHER";
    std::string path;
    std::string route = std::string(kUnmatchedRoute);
    std::string request_id;
    unsigned version = 11;
    bool keep_alive = false;
    bool in_flight = false;
    bool metrics_recorded = false;
    int status = 0;
    std::size_t bytes = 0;          // response body
    std::size_t request_bytes = 0;  // request body
  };

  // --- reading -------------------------------------------------------------

  void WaitForRequest() {
    if (stopping_ || core_.stopping_flag.load()) return Close();
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // The body limit is applied once the header is known (OnHeader), so an
    // oversized Content-Length is answered with our own 413.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    exchange_ = Exchange{};
    if (buffer_.size() > 0) return ReadHeader();  // a pipelined request is already here
    state_ = State::kIdle;
    stream_.expires_after(first_request_ ? core_.options.header_timeout : core_.options.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kFirstReadBytes),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->OnFirstBytes(ec, n); });
  }

  void OnFirstBytes(beast::error_code ec, std::size_t n) {
    if (state_ == State::kClosed) return;
    if (ec) return Close();  // idle timeout, peer closed, or shutdown
    buffer_.commit(n);
    ReadHeader();
  }

  void ReadHeader() {
    state_ = State::kReading;
    first_request_ = false;
    exchange_.active = true;
    exchange_.start = std::chrono::steady_clock::now();
    stream_.expires_after(core_.options.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    exchange_.method = std::string(req.method_string());
    exchange_.version = req.version();
    exchange_.request_id = RequestIdFor(View(req["X-Request-Id"]), core_.env);
    std::string_view target = View(req.target());
    exchange_.path = std::string(target.substr(0, target.find('?')));
    match_ = core_.router.Match(exchange_.method, exchange_.path);
    exchange_.route = match_.pattern;

    std::size_t limit = core_.options.max_body_bytes;
    if (match_.kind == RouteMatch::Kind::kFound && match_.route->options.max_body_bytes > 0)
      limit = match_.route->options.max_body_bytes;
    body_limit_ = limit;
    if (auto length = parser_->content_length(); length && *length > limit) {
      return RespondEarly(
          core_.Error(ApiError{413, "PayloadTooLarge",
                                 "request body of " + std::to_string(*length) +
                                     " bytes exceeds the limit of " + std::to_string(limit) + " bytes",
                                 ""}));
    }
    parser_->body_limit(limit);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, exchange_.version);
      stream_.expires_after(core_.options.body_timeout);
      http::async_write(stream_, *continue_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (self->state_ == State::kClosed) return;
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return Dispatch();
    stream_.expires_after(core_.options.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (self->state_ == State::kClosed) return;
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (exchange_.request_id.empty()) exchange_.request_id = core_.env.NewUuid();
    if (ec == http::error::body_limit) {
      return RespondEarly(core_.Error(ApiError{
          413, "PayloadTooLarge",
          "request body exceeds the limit of " + std::to_string(body_limit_) + " bytes",
          ""}));
    }
    if (ec == http::error::header_limit) {
      return RespondEarly(core_.Error(
          ApiError{400, "InvalidArgument",
                   "request header exceeds " + std::to_string(kMaxHeaderBytes) + " bytes", ""}));
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec.category() != http::make_error_code(http::error::bad_method).category()) {
      // The peer went away or was too slow; there is nobody to answer.
      if (ec == beast::error::timeout)
        LogEvent(spdlog::level::debug, "http timeout", {{"remote", remote_}, {"path", LoggedPath()}});
      return Close();
    }
    RespondEarly(
        core_.Error(ApiError{400, "InvalidArgument", "malformed HTTP request: " + ec.message(), ""}));
  }

  // --- dispatching -----------------------------------------------------------

  HttpRequest TakeRequest() {
    auto message = parser_->release();
    HttpRequest request;
    request.method = exchange_.method;
    request.target = std::string(message.target());
    request.path = exchange_.path;
    for (const auto& field : message)
      request.headers.Add(std::string(field.name_string()), std::string(field.value()));
    request.body = std::move(message.body());
    exchange_.request_bytes = request.body.size();
    request.request_id = exchange_.request_id;
    request.remote = remote_;
    exchange_.keep_alive = message.keep_alive();
    return request;
  }

  void Dispatch() {
    HttpRequest request = TakeRequest();
    exchange_.in_flight = true;
    core_.in_flight->Add(1);

    switch (match_.kind) {
      case RouteMatch::Kind::kBadPath:
        return Write(core_.Error(request, match_.error));
      case RouteMatch::Kind::kNotFound:
        return Write(core_.Error(ApiError{
            404, "NotFound",
            "no route for " + exchange_.method + " " + exchange_.path.substr(0, kMaxLoggedPathBytes), ""}));
      case RouteMatch::Kind::kMethodNotAllowed:
        return Write(core_.Styled(MethodNotAllowedResponse(exchange_.method, match_.allowed),
                                         MethodNotAllowedError(exchange_.method, match_.allowed)));
      case RouteMatch::Kind::kFound:
        break;
    }
    std::string_view target = request.target;
    std::size_t question = target.find('?');
    if (question != std::string_view::npos) {
      auto query = ParseQuery(target.substr(question + 1));
      if (!query.ok()) return Write(core_.Error(request, query.status()));
      request.query = std::move(query).value();
    }
    request.params = std::move(match_.params);
    const Route* route = match_.route;
    if (!route->options.blocking) return OnHandled(Invoke(*route, request));

    if (core_.pooled.fetch_add(1) >= core_.options.max_in_flight) {
      core_.pooled.fetch_sub(1);
      return Write(
          core_.Error(ApiError{503, "Unavailable",
                                 "server overloaded: " + std::to_string(core_.options.max_in_flight) +
                                     " requests in progress; retry later",
                                 ""}));
    }
    state_ = State::kHandling;
    net::post(core_.pool, [self = shared_from_this(), route, request = std::move(request)] {
      HttpResponse response = Invoke(*route, request);
      self->core_.pooled.fetch_sub(1);
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->OnHandled(std::move(response)); });
    });
  }

  // Runs a handler; an exception is a bug, answered 500 rather than
  // crashing the process.
  static HttpResponse Invoke(const Route& route, const HttpRequest& request) {
    try {
      return route.handler(request);
    } catch (const std::exception& e) {
      return ErrorResponse(request, Internal(std::string("unhandled exception: ") + e.what()));
    } catch (...) {
      return ErrorResponse(request, Internal("unhandled exception"));
    }
  }

  void OnHandled(HttpResponse response) {
    if (state_ == State::kClosed) {
      EndExchange();
      return;
    }
    if (response.stream) return StartStream(std::move(response));
    Write(std::move(response));
  }

  // --- writing ---------------------------------------------------------------

  // Answers before the request was read in full; the connection then closes.
  void RespondEarly(HttpResponse response) {
    linger_ = true;
    exchange_.keep_alive = false;
    Write(std::move(response));
  }

  void RejectOverCapacity() {
    exchange_ = Exchange{};
    exchange_.active = true;
    exchange_.start = std::chrono::steady_clock::now();
    exchange_.request_id = core_.env.NewUuid();
    RespondEarly(core_.Error(ApiError{503, "Unavailable", "too many open connections; retry later", ""}));
  }

  void Write(HttpResponse response) {
    state_ = State::kWriting;
    const bool keep_alive = exchange_.keep_alive && !linger_ && !stopping_ && !core_.stopping_flag.load();
    exchange_.keep_alive = keep_alive;
    exchange_.status = response.status;
    exchange_.bytes = response.body.size();
    // Metrics count the answer once it exists, so a client that has read
    // its response also sees it counted.
    RecordMetrics(/*streaming=*/false);
    response_.emplace();
    response_->version(exchange_.version);
    response_->result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers.fields()) response_->insert(name, value);
    response_->set("X-Request-Id", exchange_.request_id);
    response_->body() = std::move(response.body);
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    stream_.expires_after(core_.options.body_timeout);
    http::async_write(stream_, *response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->OnWritten(ec);
    });
  }

  void OnWritten(beast::error_code ec) {
    response_.reset();
    if (std::max(exchange_.bytes, exchange_.request_bytes) >= kTrimAfterBytes) ScheduleTrim();
    EndExchange();
    if (state_ == State::kClosed) return;
    if (ec) return Close();
    if (linger_) return Linger();
    if (!exchange_.keep_alive) return Close();
    WaitForRequest();
  }

  // After a large exchange (its JSON nodes and body strings are freed by
  // now), hands the freed heap back to the OS on the handler pool, so RSS
  // follows what is live rather than the high-water mark (common/memory.h).
  void ScheduleTrim() {
    if (core_.trim_pending.exchange(true)) return;
    net::post(core_.pool, [&core = core_] {
      ReleaseFreeMemory();
      core.trim_pending.store(false);
    });
  }

  // Half-closes, then reads and drops what the client still sends until it
  // closes too or kMaxLinger passes.
  void Linger() {
    state_ = State::kLingering;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(
        std::min<std::chrono::steady_clock::duration>(core_.options.body_timeout, kMaxLinger));
    DiscardInput();
  }

  void DiscardInput() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (self->state_ != State::kLingering) return;
                              if (ec) return self->Close();
                              self->DiscardInput();
                            });
  }

  // --- event streams ---------------------------------------------------------

  void StartStream(HttpResponse response) {
    state_ = State::kStreaming;
    events_ = std::move(response.stream);
    chunked_ = exchange_.version >= 11;
    exchange_.status = 200;
    stream_header_.emplace(http::status::ok, exchange_.version);
    for (const auto& [name, value] : response.headers.fields()) stream_header_->insert(name, value);
    stream_header_->set(http::field::content_type, events_->content_type());
    stream_header_->set(http::field::cache_control, "no-cache");
    stream_header_->set("X-Accel-Buffering", "no");  // proxies must not hold events back
    stream_header_->set("X-Request-Id", exchange_.request_id);
    stream_header_->keep_alive(false);
    if (chunked_) stream_header_->chunked(true);
    serializer_.emplace(*stream_header_);
    stream_.expires_after(core_.options.body_timeout);
    http::async_write_header(
        stream_, *serializer_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnStreamHeader(ec); });
  }

  void OnStreamHeader(beast::error_code ec) {
    if (state_ != State::kStreaming) return;
    if (ec) return Close();
    RecordMetrics(/*streaming=*/true);
    stream_.expires_never();
    WatchPeer();
    ArmKeepAlive();
    events_->Attach([weak = weak_from_this()] {
      if (auto self = weak.lock()) net::post(self->stream_.get_executor(), [self] { self->PumpStream(); });
    });
    if (stopping_ || core_.stopping_flag.load()) return EndStream();
    PumpStream();
  }

  // The client sends nothing during a stream; a completed read means it
  // closed the connection (or misbehaves), either way the stream ends.
  void WatchPeer() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (self->state_ != State::kStreaming) return;
                              if (ec) return self->Close();
                              self->WatchPeer();
                            });
  }

  void ArmKeepAlive() {
    if (events_->content_type() != "text/event-stream") return;  // raw bytes: a comment would corrupt them
    keepalive_timer_.expires_after(core_.options.sse_keepalive);
    keepalive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->state_ != State::kStreaming || self->writing_) return;
      self->WriteStreamData(": keep-alive\n\n", /*then_end=*/false);
    });
  }

  void PumpStream() {
    if (state_ != State::kStreaming || writing_ || ending_) return;
    std::string out;
    bool more = events_->Drain(&out);
    if (!out.empty()) return WriteStreamData(std::move(out), /*then_end=*/!more);
    if (!more) EndStream();
  }

  void WriteStreamData(std::string data, bool then_end) {
    writing_ = true;
    exchange_.bytes += data.size();
    stream_buffer_ = std::move(data);
    stream_.expires_after(core_.options.body_timeout);
    auto done = [self = shared_from_this(), then_end](beast::error_code ec, std::size_t) {
      self->OnStreamWritten(ec, then_end);
    };
    if (chunked_)
      net::async_write(stream_, http::make_chunk(net::buffer(stream_buffer_)), std::move(done));
    else
      net::async_write(stream_, net::buffer(stream_buffer_), std::move(done));
  }

  void OnStreamWritten(beast::error_code ec, bool then_end) {
    writing_ = false;
    if (state_ != State::kStreaming) return;
    if (ec) return Close();
    ArmKeepAlive();
    if (then_end || stopping_) return EndStream();
    PumpStream();
  }

  // Ends the stream cleanly: the last chunk, then close (the response said
  // Connection: close).
  void EndStream() {
    if (state_ != State::kStreaming) return;
    ending_ = true;
    if (writing_) return;  // OnStreamWritten comes back here
    keepalive_timer_.cancel();
    if (!chunked_) return Close();
    writing_ = true;
    stream_.expires_after(core_.options.body_timeout);
    net::async_write(stream_, http::make_chunk_last(),
                     [self = shared_from_this()](beast::error_code, std::size_t) {
                       self->writing_ = false;
                       self->Close();
                     });
  }

  // --- bookkeeping -----------------------------------------------------------

  std::string LoggedPath() const { return exchange_.path.substr(0, kMaxLoggedPathBytes); }

  void RecordMetrics(bool streaming) {
    if (exchange_.metrics_recorded) return;
    exchange_.metrics_recorded = true;
    std::string method(MethodLabel(exchange_.method));
    core_.requests_total->WithLabels({method, exchange_.route, std::to_string(exchange_.status)}).Inc();
    if (!streaming) {
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - exchange_.start;
      core_.request_duration->WithLabels({method, exchange_.route}).Observe(elapsed.count());
    }
    if (exchange_.in_flight) {
      exchange_.in_flight = false;
      core_.in_flight->Add(-1);
    }
  }

  // Records metrics (if the response got that far) and the access log line.
  void EndExchange() {
    if (!exchange_.active) return;
    exchange_.active = false;
    if (exchange_.status != 0) RecordMetrics(/*streaming=*/false);
    if (exchange_.in_flight) {
      exchange_.in_flight = false;
      core_.in_flight->Add(-1);
    }
    std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - exchange_.start;
    LogEvent(core_.options.log_requests ? spdlog::level::info : spdlog::level::debug, "http request",
             {{"method", exchange_.method.substr(0, 20)},
              {"path", LoggedPath()},
              {"route", exchange_.route},
              {"status", exchange_.status},
              {"bytes", exchange_.bytes},
              {"duration_ms", std::round(elapsed.count() * 1000) / 1000},
              {"request_id", exchange_.request_id},
              {"remote", remote_}});
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    keepalive_timer_.cancel();
    if (events_) {
      // Dropping a watch unsubscribes, which may wait for a store write in
      // progress; do that off the I/O thread.
      net::post(core_.pool, [events = std::move(events_)] {});
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    EndExchange();
  }

  Core& core_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
  State state_ = State::kIdle;
  bool first_request_ = true;
  bool stopping_ = false;
  bool linger_ = false;

  std::optional<http::request_parser<http::string_body>> parser_;
  RouteMatch match_;
  std::size_t body_limit_ = 0;  // of the current request, for its 413 message
  Exchange exchange_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;

  std::shared_ptr<EventStream> events_;
  std::optional<http::response<http::empty_body>> stream_header_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::string stream_buffer_;
  bool chunked_ = true;
  bool writing_ = false;
  bool ending_ = false;
  net::steady_timer keepalive_timer_;
  std::array<char, 4096> discard_{};
};

}  // namespace

void HttpServer::Core::DoAccept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpServer::Core::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    LogEvent(spdlog::level::warn, "accept failed", {{"error", ec.message()}});
    accept_timer.expires_after(kAcceptRetryDelay);
    accept_timer.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor.is_open()) DoAccept();
    });
    return;
  }
  bool over_capacity = open_connections.load() >= options.max_connections;
  std::make_shared<Connection>(*this, std::move(socket))->Start(over_capacity);
  DoAccept();
}

void HttpServer::Core::Shutdown(std::chrono::milliseconds drain) {
  std::lock_guard shutdown_lock(shutdown_mu);
  if (shut_down) return;
  shut_down = true;

  auto snapshot = [this] {
    std::vector<std::shared_ptr<Connection>> out;
    for (auto& [key, weak] : sessions)
      if (auto session = weak.lock()) out.push_back(std::move(session));
    return out;
  };
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mu);
    stopping = true;
    stopping_flag = true;
    live = snapshot();
  }
  net::post(acceptor.get_executor(), [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_timer.cancel();
  });
  for (auto& session : live) session->Stop();
  live.clear();

  {
    std::unique_lock lock(mu);
    sessions_changed.wait_for(lock, drain, [this] { return sessions.empty(); });
    live = snapshot();
  }
  for (auto& session : live) session->ForceClose();
  live.clear();

  // Handlers still queued are dropped; running ones must finish, since they
  // may hold store resources.
  pool.stop();
  pool.join();
  work.reset();
  {
    // Closed connections finish their cancelled operations promptly; this
    // bound only matters if an I/O thread is stuck.
    std::unique_lock lock(mu);
    sessions_changed.wait_for(lock, std::chrono::seconds(2), [this] { return sessions.empty(); });
  }
  ioc.stop();
  for (auto& thread : threads) thread.join();
  threads.clear();
}

Result<std::pair<std::string, unsigned short>> ParseListenAddress(std::string_view listen) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("listen address '" + std::string(listen.substr(0, 200)) + "' " + std::string(why) +
                               " (expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)",
                           "listen");
  };
  std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view host = listen.substr(0, colon);
  std::string_view port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos)
    return bad("must put an IPv6 address in brackets");
  if (host.empty()) return bad("has no host");
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos)
    return bad("has a malformed port");
  unsigned long port = std::stoul(std::string(port_text));
  if (port > 65535) return bad("has a port above 65535");
  return std::make_pair(std::string(host), static_cast<unsigned short>(port));
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ApiOptions& options, const Router* router,
                                                      MetricsRegistry* metrics, Env* env) {
  ASSIGN_OR_RETURN(auto address, ParseListenAddress(options.listen));
  int io_threads = options.threads > 0 ? options.threads
                                       : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  int handler_threads = options.handler_threads > 0 ? options.handler_threads : 4 * io_threads;
  auto core = std::make_unique<Core>(options, router, env, io_threads, handler_threads);

  try {
    core->requests_total = &metrics->AddCounter(
        "ferry_http_requests_total", "HTTP requests answered, by method, route pattern and status code.",
        {"method", "route", "code"});
    core->request_duration = &metrics->AddHistogram(
        "ferry_http_request_duration_seconds",
        "Time from a request's complete header to its response being ready, by method and route pattern "
        "(watch streams excluded).",
        {"method", "route"});
    core->in_flight =
        &metrics->AddGauge("ferry_http_requests_in_flight", "HTTP requests being served.").WithLabels({});
    core->connections_open =
        &metrics->AddGauge("ferry_http_connections_open", "Open HTTP connections.").WithLabels({});
  } catch (const std::exception& e) {
    return Internal(std::string("cannot register HTTP metrics: ") + e.what());
  }

  beast::error_code ec;
  tcp::resolver resolver(core->ioc);
  auto endpoints =
      resolver.resolve(address.first, std::to_string(address.second), tcp::resolver::numeric_service, ec);
  auto fail = [&] { return Unavailable("cannot listen on " + options.listen + ": " + ec.message()); };
  if (ec) return Unavailable("cannot listen on " + options.listen + ": cannot resolve host: " + ec.message());
  if (endpoints.empty()) return Unavailable("cannot listen on " + options.listen + ": host has no address");
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  core->acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail();
  core->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail();
  core->acceptor.bind(endpoint, ec);
  if (ec) return fail();
  core->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail();

  tcp::endpoint bound = core->acceptor.local_endpoint(ec);
  if (ec) return fail();
  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  core->url = "http://" + host + ":" + std::to_string(bound.port());

  core->work.emplace(core->ioc.get_executor());
  core->DoAccept();
  for (int i = 0; i < io_threads; ++i) core->threads.emplace_back([ioc = &core->ioc] { ioc->run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core)));
}

HttpServer::HttpServer(std::unique_ptr<Core> core) : core_(std::move(core)) {}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

std::string HttpServer::url() const { return core_->url; }

void HttpServer::Shutdown(std::chrono::milliseconds drain) { core_->Shutdown(drain); }

}  // namespace ferry::api
