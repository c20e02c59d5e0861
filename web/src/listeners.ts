// Functions to call when something changes: the one way the app's modules tell each other
// (the language, the week shown, the layers' state, the planner, the patrol queue).

/** A set of functions to call on a change. */
export class Listeners {
  private readonly fs = new Set<() => void>();

  /** Adds `f`; the function returned removes it again. */
  add(f: () => void): () => void {
    this.fs.add(f);
    return () => {
      this.fs.delete(f);
    };
  }

  /** Calls every function added. */
  call(): void {
    this.fs.forEach((f) => f());
  }
}
