/**
 * The one place where typed errors become HTTP: a status per error code (checked exhaustive by
 * the compiler) and API.md's body `{"error":{"code","message"}}`. Bad input maps to a 4xx; only
 * the server's own failures (disk, corruption, bugs) are 5xx.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ErrorCode, SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { isNoSpace } from "../runtime/fs.ts";

export const HTTP_STATUS = {
  INVALID_REQUEST: 400,
  INVALID_TOPIC_NAME: 400,
  INVALID_CONFIG: 400,
  INVALID_PARTITIONS: 400,
  INVALID_REPLICA_ASSIGNMENT: 400,
  POLICY_VIOLATION: 400,
  CORRUPT_BATCH: 400,
  UNSUPPORTED_COMPRESSION: 400,
  RECORD_TOO_LARGE: 413,
  REQUEST_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOPIC_NOT_FOUND: 404,
  PARTITION_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  OFFSET_OUT_OF_RANGE: 416,
  TOPIC_EXISTS: 409,
  ILLEGAL_GENERATION: 409,
  REBALANCE_IN_PROGRESS: 409,
  GROUP_NOT_EMPTY: 409,
  FENCED_LEADER_EPOCH: 409,
  UNKNOWN_LEADER_EPOCH: 409,
  INCONSISTENT_GROUP_PROTOCOL: 409,
  INVALID_RECORD: 400,
  OUT_OF_ORDER_SEQUENCE: 409,
  INVALID_PRODUCER_EPOCH: 409,
  INVALID_TXN_STATE: 400,
  TRANSACTIONAL_ID_UNSUPPORTED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOO_MANY_REQUESTS: 429,
  CLUSTER_UNAVAILABLE: 503,
  NOT_LEADER_OR_FOLLOWER: 421,
  LEADER_NOT_AVAILABLE: 503,
  NOT_ENOUGH_REPLICAS: 503,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 503,
  INVALID_REPLICATION_FACTOR: 400,
  REQUEST_TIMED_OUT: 504,
  NOT_COORDINATOR: 421,
  COORDINATOR_LOAD_IN_PROGRESS: 503,
  BROKER_ID_IN_USE: 409,
  INSUFFICIENT_STORAGE: 507,
  CORRUPT_LOG: 500,
  STORAGE_ERROR: 500,
  LOG_CLOSED: 503,
  TOO_MANY_OPEN_FILES: 503,
  INTERNAL: 500,
} as const satisfies Record<ErrorCode, number>;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** Turns anything thrown into API.md's error shape and status. */
export function toErrorResponse(err: unknown, logger: Logger): { status: number; body: ErrorBody } {
  if (err instanceof SluiceError) {
    const status = HTTP_STATUS[err.code];
    if (status >= 500) logger.error(err.message, { code: err.code, ...err.details });
    return {
      status,
      body: {
        error: {
          code: err.code,
          message: err.message,
          ...(err.details ? { details: { ...err.details } } : {}),
        },
      },
    };
  }
  if (err instanceof HTTPException && err.status < 500) {
    // Hono's own refusals (e.g. a malformed JSON body) are the client's fault.
    const code: ErrorCode = err.status === 413
      ? "REQUEST_TOO_LARGE"
      : err.status === 415
      ? "UNSUPPORTED_MEDIA_TYPE"
      : "INVALID_REQUEST";
    return { status: HTTP_STATUS[code], body: { error: { code, message: err.message } } };
  }
  if (isNoSpace(err)) {
    // A full disk met outside the log's own typed paths (topic files, checkpoints): still 507.
    logger.error("no space left on device", { error: String(err) });
    return {
      status: HTTP_STATUS.INSUFFICIENT_STORAGE,
      body: { error: { code: "INSUFFICIENT_STORAGE", message: "no space left on device" } },
    };
  }
  logger.error("unexpected error", { error: String(err), stack: (err as Error)?.stack });
  return {
    status: 500,
    body: { error: { code: "INTERNAL", message: "internal error; the server log has details" } },
  };
}

export function errorResponse(c: Context, err: unknown, logger: Logger): Response {
  const { status, body } = toErrorResponse(err, logger);
  return c.json(body, status as 400);
}
