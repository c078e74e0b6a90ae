import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Property tests drive the buddy allocator and pool through thousands of steps.
    testTimeout: 60_000,
  },
});
