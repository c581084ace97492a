#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "server/service/services.h"

namespace hypersweep {

absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const GrpcServerOptions& options, const std::vector<grpc::Service*>& services, int* port) {
  static const bool once = [] {
    grpc::EnableDefaultHealthCheckService(true);  // grpc.health.v1.Health
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)once;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!options.tls_cert_pem.empty() && !options.tls_key_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, port);
  for (auto* s : services) builder.RegisterService(s);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  builder.SetMaxSendMessageSize(64 << 20);  // pages stay under kMaxResponseBytes
  if (options.interceptors) builder.experimental().SetInterceptorCreators(options.interceptors());
  auto server = builder.BuildAndStart();
  if (!server || (port != nullptr && *port == 0)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  if (auto* health = server->GetHealthCheckService()) health->SetServingStatus(true);
  return server;
}

}  // namespace hypersweep
