// A file written through a temporary sibling (`.<name>.<pid>.<random>.tmp`, the naming whose
// cleanup, removeStaleTemporaries in src/io/safetensors.ts, removes those that killed processes
// left) and renamed over the target by commit(), after the data is flushed; the folder is flushed
// after the rename, so after a crash the target is whole or absent. Destroyed without commit, it
// removes its temporary. Errors name `op`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace skipnorm::io {

class AtomicFile {
 public:
  AtomicFile(const std::string& target, std::string op);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // at the current position
  void writeAt(uint64_t offset, const void* data, size_t n);
  void seek(uint64_t offset);  // the next write() starts here (a gap reads as zeros)
  void commit();

 private:
  std::string target_, op_, dir_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace skipnorm::io
