import { create, fromBinary } from "@bufbuild/protobuf";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema, StatusSchema } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { describeError, errorTitle } from "./apiError";

// grpc-status-details-bin as the server sends it, serialized in Python by the real googleapis
// messages (google.rpc.Status with ErrorInfo, BadRequest, RetryInfo, PreconditionFailure and
// QuotaFailure): proves the generated schemas read what the server writes.
const STATUS_DETAILS =
  "CAMSKWludmFsaWQgcmVxdWVzdDogbGltaXRfcHJpY2U6IGlzIHJlcXVpcmVkGmMKKHR5cGUuZ29vZ2xlYXBpcy5jb20vZ29vZ2xlLnJwYy5FcnJvckluZm8SNwoXT1JERVJfVkFMSURBVElPTl9GQUlMRUQSB2lia3IudjEaEwoKb3JkZXJfdHlwZRIFTElNSVQaSQopdHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLkJhZFJlcXVlc3QSHAoaCgtsaW1pdF9wcmljZRILaXMgcmVxdWlyZWQaNgoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLlJldHJ5SW5mbxIKCggIAhCAyrXuARpYCjJ0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuUHJlY29uZGl0aW9uRmFpbHVyZRIiCiAKBFJJU0sSDGJ1eWluZ19wb3dlchoKbm90IGVub3VnaBpUCit0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuUXVvdGFGYWlsdXJlEiUKIwoLYWNjb3VudDpEVTESFDEwIG9yZGVycyBwZXIgc2Vjb25k";

describe("the generated google.rpc schemas", () => {
  it("read the server's google.rpc.Status and unpack its details", () => {
    const status = fromBinary(StatusSchema, base64Decode(STATUS_DETAILS));
    expect(status.code).toBe(Code.InvalidArgument);
    expect(status.details.map((detail) => detail.typeUrl.replace("type.googleapis.com/", ""))).toEqual([
      "google.rpc.ErrorInfo",
      "google.rpc.BadRequest",
      "google.rpc.RetryInfo",
      "google.rpc.PreconditionFailure",
      "google.rpc.QuotaFailure",
    ]);
    const [errorInfo, badRequest, retryInfo] = status.details;
    expect(errorInfo !== undefined && anyIs(errorInfo, ErrorInfoSchema)).toBe(true);
    expect(errorInfo === undefined ? undefined : anyUnpack(errorInfo, ErrorInfoSchema)?.domain).toBe("ibkr.v1");
    expect(badRequest === undefined ? undefined : anyUnpack(badRequest, BadRequestSchema)?.fieldViolations[0]?.field).toBe(
      "limit_price",
    );
    expect(retryInfo === undefined ? undefined : anyUnpack(retryInfo, RetryInfoSchema)?.retryDelay?.nanos).toBe(500_000_000);
  });
});

describe("describeError", () => {
  it("decodes the catalogue details of a gRPC trailer", () => {
    const error = findTrailerError(
      new Headers({
        "grpc-status": "3",
        "grpc-message": "invalid request: limit_price: is required",
        "grpc-status-details-bin": STATUS_DETAILS,
        "x-request-id": "req-42",
      }),
    );
    const described = describeError(error);
    expect(described.code).toBe(Code.InvalidArgument);
    expect(described.reason).toBe("ORDER_VALIDATION_FAILED");
    expect(described.metadata).toEqual({ order_type: "LIMIT" });
    expect(described.fieldViolations).toEqual([{ field: "limit_price", description: "is required" }]);
    expect(described.violations).toEqual(["buying_power: not enough", "account:DU1: 10 orders per second"]);
    expect(described.retryDelayMs).toBe(2500);
    expect(described.requestId).toBe("req-42");
    expect(errorTitle(described)).toBe("ORDER_VALIDATION_FAILED (invalid_argument)");
  });

  it("round-trips details attached by a handler", () => {
    const error = new ConnectError("no", Code.FailedPrecondition, undefined, [
      { desc: ErrorInfoSchema, value: { reason: "MARKET_CLOSED", domain: "ibkr.v1" } },
      { desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: [{ field: "quantity", description: "too big" }] }) },
    ]);
    const described = describeError(error);
    expect(described.reason).toBe("MARKET_CLOSED");
    expect(described.fieldViolations).toEqual([{ field: "quantity", description: "too big" }]);
  });

  it("falls back to the code for errors without details, and never throws", () => {
    const described = describeError(new Error("socket closed"));
    expect(described.reason).toBe("");
    expect(described.codeName).toBe("unknown");
    expect(errorTitle(described)).toBe("unknown");
    expect(describeError("a string").message).toBe("a string");
  });

  it("ignores ErrorInfo of another domain", () => {
    const error = new ConnectError("no", Code.Unavailable, undefined, [
      { desc: ErrorInfoSchema, value: { reason: "UPSTREAM", domain: "envoy" } },
    ]);
    expect(describeError(error).reason).toBe("");
  });
});
