// The one `ferry` binary: `ferry server` runs the control plane, `ferry serve`
// the inference data plane; every other verb is the CLI client.
#include "ferry/cli/cli.h"
#include "ferry/server/serve.h"
#include "ferry/server/server.h"

int main(int argc, char** argv) {
  return ferry::cli::Main(argc, argv, {{"server", "Run the Ferry control plane (REST API, store, controllers)",
                                        &ferry::server::Main},
                                       {"serve", "Serve models over the Open Inference Protocol (KServe V2, V1)",
                                        &ferry::server::ServeMain}});
}
