/**
 * Handlers parked until a test lets them go, by id: the test opens a gate and
 * waits until a request has entered it; the handler passes it once released.
 */
const gates = new Map<string, { entered: () => void; release: Promise<void> }>();

/** Open a gate: `entered` resolves when a handler reaches it, `release()` lets that handler go on. */
export function gate(id: string): { entered: Promise<void>; release: () => void } {
  let entered!: () => void;
  let release!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  const releaseP = new Promise<void>((r) => (release = r));
  gates.set(id, { entered, release: releaseP });
  return { entered: enteredP, release };
}

/** In a handler: wait at gate `id` until the test releases it (at once if no such gate is open). A gate is forgotten once entered. */
export async function pass(id: string): Promise<void> {
  const g = gates.get(id);
  gates.delete(id);
  g?.entered();
  await g?.release;
}
