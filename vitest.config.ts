import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Property tests drive the buddy allocator and pool through thousands of steps.
    testTimeout: 60_000,
    env: {
      // Tests boot machines with page poisoning on (the `page_poison=1` of src/mem/physmem.ts) unless
      // a test says otherwise; `PPEMU_PAGE_POISON=0 npx vitest run` runs the suite with it off.
      PPEMU_PAGE_POISON: process.env.PPEMU_PAGE_POISON ?? "1",
    },
  },
});
