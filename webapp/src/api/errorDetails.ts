// The google.rpc error details the API attaches to failures (errors.proto): ErrorInfo,
// BadRequest, PreconditionFailure, QuotaFailure and RetryInfo. The generated client does not
// include google/rpc/error_details.proto, so this module describes the part of it we read, with
// the same names and field numbers, and lets @bufbuild/protobuf build the schemas at start-up.
// A test decodes bytes serialized by the real googleapis messages to keep the two in step.
import type { Message } from "@bufbuild/protobuf";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { messageDesc } from "@bufbuild/protobuf/codegenv2";
import type { DescriptorProto, Duration, FieldDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_duration,
} from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";

type FieldInit = MessageInitShape<GenMessage<FieldDescriptorProto>>;
type MessageInit = MessageInitShape<GenMessage<DescriptorProto>>;

function stringField(name: string, number: number, jsonName: string): FieldInit {
  return {
    name,
    number,
    jsonName,
    label: FieldDescriptorProto_Label.OPTIONAL,
    type: FieldDescriptorProto_Type.STRING,
  };
}

function repeatedMessageField(name: string, number: number, jsonName: string, typeName: string): FieldInit {
  return {
    name,
    number,
    jsonName,
    label: FieldDescriptorProto_Label.REPEATED,
    type: FieldDescriptorProto_Type.MESSAGE,
    typeName,
  };
}

const errorInfoMessage: MessageInit = {
  name: "ErrorInfo",
  field: [
    stringField("reason", 1, "reason"),
    stringField("domain", 2, "domain"),
    repeatedMessageField("metadata", 3, "metadata", ".google.rpc.ErrorInfo.MetadataEntry"),
  ],
  nestedType: [
    {
      name: "MetadataEntry",
      field: [stringField("key", 1, "key"), stringField("value", 2, "value")],
      options: { mapEntry: true },
    },
  ],
};

const retryInfoMessage: MessageInit = {
  name: "RetryInfo",
  field: [
    {
      name: "retry_delay",
      number: 1,
      jsonName: "retryDelay",
      label: FieldDescriptorProto_Label.OPTIONAL,
      type: FieldDescriptorProto_Type.MESSAGE,
      typeName: ".google.protobuf.Duration",
    },
  ],
};

const quotaFailureMessage: MessageInit = {
  name: "QuotaFailure",
  field: [repeatedMessageField("violations", 1, "violations", ".google.rpc.QuotaFailure.Violation")],
  nestedType: [
    {
      name: "Violation",
      field: [stringField("subject", 1, "subject"), stringField("description", 2, "description")],
    },
  ],
};

const preconditionFailureMessage: MessageInit = {
  name: "PreconditionFailure",
  field: [
    repeatedMessageField("violations", 1, "violations", ".google.rpc.PreconditionFailure.Violation"),
  ],
  nestedType: [
    {
      name: "Violation",
      field: [
        stringField("type", 1, "type"),
        stringField("subject", 2, "subject"),
        stringField("description", 3, "description"),
      ],
    },
  ],
};

const badRequestMessage: MessageInit = {
  name: "BadRequest",
  field: [
    repeatedMessageField(
      "field_violations",
      1,
      "fieldViolations",
      ".google.rpc.BadRequest.FieldViolation",
    ),
  ],
  nestedType: [
    {
      name: "FieldViolation",
      field: [
        stringField("field", 1, "field"),
        stringField("description", 2, "description"),
        stringField("reason", 3, "reason"),
      ],
    },
  ],
};

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "google/rpc/error_details.proto",
    package: "google.rpc",
    syntax: "proto3",
    dependency: ["google/protobuf/duration.proto"],
    messageType: [
      errorInfoMessage,
      retryInfoMessage,
      quotaFailureMessage,
      preconditionFailureMessage,
      badRequestMessage,
    ],
  }),
  (name) => (name === "google/protobuf/duration.proto" ? file_google_protobuf_duration : undefined),
);

const errorDetailsFile = registry.getFile("google/rpc/error_details.proto");
if (errorDetailsFile === undefined) {
  throw new Error("google/rpc/error_details.proto did not register");
}

export type ErrorInfo = Message<"google.rpc.ErrorInfo"> & {
  reason: string;
  domain: string;
  metadata: { [key: string]: string };
};
export type RetryInfo = Message<"google.rpc.RetryInfo"> & {
  retryDelay?: Duration | undefined;
};
export type QuotaFailure_Violation = Message<"google.rpc.QuotaFailure.Violation"> & {
  subject: string;
  description: string;
};
export type QuotaFailure = Message<"google.rpc.QuotaFailure"> & {
  violations: QuotaFailure_Violation[];
};
export type PreconditionFailure_Violation = Message<"google.rpc.PreconditionFailure.Violation"> & {
  type: string;
  subject: string;
  description: string;
};
export type PreconditionFailure = Message<"google.rpc.PreconditionFailure"> & {
  violations: PreconditionFailure_Violation[];
};
export type BadRequest_FieldViolation = Message<"google.rpc.BadRequest.FieldViolation"> & {
  field: string;
  description: string;
  reason: string;
};
export type BadRequest = Message<"google.rpc.BadRequest"> & {
  fieldViolations: BadRequest_FieldViolation[];
};

export const ErrorInfoSchema: GenMessage<ErrorInfo> = messageDesc(errorDetailsFile, 0);
export const RetryInfoSchema: GenMessage<RetryInfo> = messageDesc(errorDetailsFile, 1);
export const QuotaFailureSchema: GenMessage<QuotaFailure> = messageDesc(errorDetailsFile, 2);
export const PreconditionFailureSchema: GenMessage<PreconditionFailure> = messageDesc(
  errorDetailsFile,
  3,
);
export const BadRequestSchema: GenMessage<BadRequest> = messageDesc(errorDetailsFile, 4);
