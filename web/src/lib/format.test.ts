import { describe, expect, it } from "vitest";
import { elapsed, formatDuration, formatNumber, formatTime } from "./format";

describe("format", () => {
  it("formats durations at every scale", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_340)).toBe("12.3 s");
    expect(formatDuration(245_000)).toBe("4 m 05 s");
    expect(formatDuration(7_380_000)).toBe("2 h 03 m");
    expect(formatDuration(-1)).toBe("—");
    expect(formatDuration(undefined)).toBe("—");
  });
  it("treats KFP's zero time as never", () => {
    expect(formatTime("1970-01-01T00:00:00Z")).toBe("—");
    expect(formatTime("not a time")).toBe("—");
    expect(formatTime("2026-11-23T10:00:00Z")).toMatch(/^2026-11-2[23] \d\d:00:00$/);
  });
  it("measures elapsed time, open-ended when there is no end", () => {
    expect(elapsed("2026-11-23T10:00:00Z", "2026-11-23T10:00:05Z")).toBe(5000);
    expect(elapsed(undefined)).toBeUndefined();
    expect(elapsed("2026-11-23T10:00:00Z", "1970-01-01T00:00:00Z")).toBeGreaterThan(0);
  });
  it("keeps numbers readable", () => {
    expect(formatNumber(3)).toBe("3");
    expect(formatNumber(0.123456)).toBe("0.1235");
    expect(formatNumber(0.00001234)).toBe("1.234e-5");
    expect(formatNumber(NaN)).toBe("—");
  });
});
