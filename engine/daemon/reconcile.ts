/** The controllers' reconcile behind the loop's ReconcileFn port. */
import type { ReconcileFn } from './ports.ts';

export async function reconcileFn(): Promise<ReconcileFn> {
  const { reconcile } = await import('../controllers/index.ts');
  return (input) => reconcile({ ...input, desired: input.desired as unknown as Parameters<typeof reconcile>[0]['desired'] });
}
