import { describe, expect, it } from "vitest";
import { statusTone } from "./status";

describe("statusTone", () => {
  it("reads every API's state names", () => {
    expect(statusTone("SUCCEEDED")).toBe("ok");
    expect(statusTone("Succeeded")).toBe("ok");
    expect(statusTone("FINISHED")).toBe("ok");
    expect(statusTone("RUNNING")).toBe("running");
    expect(statusTone("Failed")).toBe("bad");
    expect(statusTone("CANCELED")).toBe("muted");
    expect(statusTone("PENDING")).toBe("waiting");
  });
});
