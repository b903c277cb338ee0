import { describe, expect, it } from "vitest";
import { eventEmitter, type EventListener, type LifecycleEvent } from "../src/lifecycle.ts";

// The emitter that the handler and the issuer share: what each listener is given, and when an
// event is not built at all.

function recording(hears?: () => boolean): EventListener & { events: LifecycleEvent[] } {
  const events: LifecycleEvent[] = [];
  const listener = (event: LifecycleEvent) => void events.push(event);
  return Object.assign(listener, hears ? { hears } : {}, { events });
}

describe("eventEmitter", () => {
  it("gives each listener the event with its time, the request's context and its own fields", () => {
    const first = recording();
    const second = recording();
    const emit = eventEmitter([first, undefined, second]);
    const before = Date.now();
    emit("issued", { provider: "anam", profile: "support", user: "0123456789ab" }, { cacheHit: true });

    expect(first.events).toEqual([{ name: "issued", time: expect.any(Number), provider: "anam", profile: "support", user: "0123456789ab", cacheHit: true }]);
    expect(first.events[0]!.time).toBeGreaterThanOrEqual(before);
    expect(second.events).toEqual(first.events);
  });

  it("lets an event's own fields win over the context's", () => {
    const listener = recording();
    eventEmitter([listener])("failed", { errorType: "internal" }, { errorType: "unknown_profile", status: 400 });
    expect(listener.events[0]).toMatchObject({ errorType: "unknown_profile", status: 400 });
  });

  it("builds no event when every listener says it would not hear it, and asks again on each event", () => {
    let listening = false;
    const telemetry = recording(() => listening);
    const emit = eventEmitter([telemetry]);

    expect(emit.heard()).toBe(false);
    emit("requested");
    expect(telemetry.events).toEqual([]);

    listening = true;
    expect(emit.heard()).toBe(true);
    emit("requested");
    expect(telemetry.events.map((event) => event.name)).toEqual(["requested"]);
  });

  it("hands a heard event to every listener, the ones that would not have heard it as well", () => {
    const quiet = recording(() => false);
    const app = recording();
    const emit = eventEmitter([quiet, app]);
    expect(emit.heard()).toBe(true);
    emit("cache_hit", { user: "0123456789ab" });
    expect(app.events).toHaveLength(1);
    expect(quiet.events).toHaveLength(1);
  });

  it("is heard by nobody with no listeners at all", () => {
    expect(eventEmitter([undefined]).heard()).toBe(false);
  });

  it("keeps going when a listener throws: observing a request must not break it", () => {
    const after = recording();
    const emit = eventEmitter([
      () => {
        throw new Error("listener bug");
      },
      after,
    ]);
    expect(() => emit("requested")).not.toThrow();
    expect(after.events).toHaveLength(1);
  });
});
