// The dashboard's build: one index.html and content-hashed files under
// assets/, embedded into the ferry binary (src/ferry/api/routes/dashboard.cc).
// FERRY_WEB_OUT_DIR lets each CMake build directory have its own output.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  build: {
    outDir: process.env.FERRY_WEB_OUT_DIR ?? "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
