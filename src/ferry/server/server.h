#pragma once
// `ferry server`: parses options (flags, FERRY_* environment variables, an
// optional config file), takes the data-dir lock, opens the store and the
// artifact store, registers resource types, starts the HTTP API, and drains
// on SIGTERM/SIGINT. Wiring only: no logic of its own beyond start-up.

namespace ferry::server {

// argv[0] is "server". Returns the process exit code.
int Main(int argc, char** argv);

}  // namespace ferry::server
