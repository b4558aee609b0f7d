import assert from "node:assert/strict";
import { SluiceError } from "../../src/errors.ts";
import { HTTP_STATUS, toErrorResponse } from "../../src/http/error_handler.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { storageFailure } from "../../src/storage/segment.ts";

const noSpace = Object.assign(new Error("ENOSPC: no space left on device, write"), {
  code: "ENOSPC",
});

Deno.test("a full disk is 507 INSUFFICIENT_STORAGE wherever it is met", async (t) => {
  await t.step("storageFailure() types ENOSPC and other I/O errors", () => {
    const full = storageFailure(noSpace, "rolling a segment", { dir: "/d" });
    assert.equal(full.code, "INSUFFICIENT_STORAGE");
    assert.equal(full.details?.dir, "/d");
    const other = storageFailure(Object.assign(new Error("EIO"), { code: "EIO" }), "x", {});
    assert.equal(other.code, "STORAGE_ERROR");
    const typed = new SluiceError("CORRUPT_LOG", "bad");
    assert.equal(storageFailure(typed, "x", {}), typed);
  });

  await t.step("a raw ENOSPC reaching the HTTP edge answers 507, not 500", () => {
    const logger = new MemoryLogger();
    const { status, body } = toErrorResponse(noSpace, logger);
    assert.equal(status, 507);
    assert.equal(body.error.code, "INSUFFICIENT_STORAGE");
    assert.equal(toErrorResponse(new Error("bug"), logger).status, HTTP_STATUS.INTERNAL);
  });
});
