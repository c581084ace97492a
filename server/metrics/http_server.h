// The /metrics endpoint: an HTTP (or HTTPS) server on threads of its own (never gRPC's) that
// answers GET /metrics with the registry's text and 404 for any other path. A bounded pool:
// `threads` connections are served at once and at most `max_pending` more wait; beyond that the
// accepting thread waits, and further connections wait in the kernel's backlog. With a bearer
// token, a request without `Authorization: Bearer <token>` gets 401 and nothing else.
#ifndef HYPERSWEEP_SERVER_METRICS_HTTP_SERVER_H_
#define HYPERSWEEP_SERVER_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace hypersweep::metrics {

struct HttpServerOptions {
  std::string listen;         // host:port or [v6]:port; port 0 picks one
  std::string bearer_token;   // non-empty: required on every request
  std::string tls_cert_path;  // both set: HTTPS
  std::string tls_key_path;
  int threads = 2;
  int max_pending = 8;
};

class HttpServer {
 public:
  // Binds and starts serving `render()`'s text. UNAVAILABLE when it cannot bind,
  // INVALID_ARGUMENT for a bad address or unusable TLS files.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           std::function<std::string()> render);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting, lets the requests being served finish, joins the threads. Idempotent.
  void Stop();
  int port() const { return port_; }
  bool tls() const { return tls_; }

 private:
  HttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  int port_ = 0;
  bool tls_ = false;
};

// Splits "host:port" or "[v6]:port"; false when it is not of that form.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace hypersweep::metrics

#endif  // HYPERSWEEP_SERVER_METRICS_HTTP_SERVER_H_
