#pragma once
// `ferry serve`: the inference data plane. Parses options, loads the models
// of a Triton-layout model repository (and single model files), serves the
// Open Inference Protocol over REST (api/routes/inference) and, with
// --grpc-listen, over gRPC (api/grpc), and drains on SIGTERM/SIGINT.
// Wiring only: no logic of its own beyond start-up. docs/serving.md is the
// user's guide.
//
// Once every front end is listening it prints one line on stdout:
//   ferry serve: listening on http://HOST:PORT (N models)
// (preceded by "ferry serve: grpc listening on HOST:PORT" with gRPC).

namespace ferry::server {

// argv[0] is "serve". Returns the process exit code: 0 after a clean
// drain, 1 when start-up fails (a model that does not load, a port in
// use), 2 for a usage error.
int ServeMain(int argc, char** argv);

}  // namespace ferry::server
