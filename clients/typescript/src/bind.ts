/**
 * Binds every method of `instance`'s class to it, so a method taken off the object still works:
 * `const { client, stop } = await spawnDaemon()` then `await stop()`, or
 * `items.map(client.provider)`. Private members (`#x`) need `this` to be the instance, which a
 * detached call would lose.
 */
export function bindMethods(instance: object, prototype: object): void {
  for (const key of Reflect.ownKeys(prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
    if (typeof descriptor?.value !== "function") continue; // getters stay on the prototype
    const method = descriptor.value as (...args: unknown[]) => unknown;
    Object.defineProperty(instance, key, {
      value: method.bind(instance),
      writable: true,
      configurable: true,
    });
  }
}
