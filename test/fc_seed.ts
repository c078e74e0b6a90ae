/**
 * The fast-check seed of every property test (test/pool/helpers.ts re-exports it): FC_SEED from the environment when set, to replay a failure, else a fixed one, so every
 * run checks the same cases. fast-check prints the seed (and the path) in its failure report, and
 * each property test carries it in its name.
 *
 *   FC_SEED=123 npx vitest run test/mem/xarray.property.test.ts
 */
export const FC_SEED: number = (() => {
  const env = process.env.FC_SEED;
  if (env === undefined || env === "") return 0x5eed_7fcd;
  const n = Number(env);
  if (!Number.isInteger(n)) throw new Error(`FC_SEED must be an integer, got '${env}'`);
  return n | 0;
})();

/** `fc.assert` parameters: the seed, and the number of runs. */
export function fcParams(numRuns: number): { seed: number; numRuns: number } {
  return { seed: FC_SEED, numRuns };
}
