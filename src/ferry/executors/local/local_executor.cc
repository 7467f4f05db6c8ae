#include "ferry/executors/local/local_executor.h"

namespace ferry::executors {

Result<std::unique_ptr<LocalExecutor>> LocalExecutor::Create(LocalExecutorOptions) {
  return Unimplemented("stub");
}

}  // namespace ferry::executors
