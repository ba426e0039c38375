// A request message as its .proto would describe it after an edit of its buf.validate rules: for
// tests that show a form following the contract's rules rather than rules of its own.
import { clone, createFileRegistry, getExtension, setExtension } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import type { DescriptorProto } from "@bufbuild/protobuf/wkt";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { FieldRules, MessageRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import {
  field as fieldRulesExtension,
  message as messageRulesExtension,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

/**
 * `schema` after an edit of its file: the descriptor the generated code embeds, copied, `edit`
 * applied to the message named `messageName` (the schema's own by default; "OrderLeg" for a
 * message it holds), and registered against the real imports (common.proto, rules.proto,
 * buf/validate/validate.proto).
 */
export function editedSchema(
  schema: DescMessage,
  edit: (message: DescriptorProto) => void,
  messageName: string = schema.name,
): DescMessage {
  const file = schema.file;
  const proto = clone(FileDescriptorProtoSchema, file.proto);
  const message = proto.messageType.find((candidate) => candidate.name === messageName);
  if (message === undefined) {
    throw new Error(`no ${messageName} in ${file.name}.proto`);
  }
  edit(message);
  const registry = createFileRegistry(proto, (name) => file.dependencies.find((imported) => imported.proto.name === name));
  const edited = registry.getMessage(schema.typeName);
  if (edited === undefined) {
    throw new Error(`the edited file lost ${schema.typeName}`);
  }
  return edited;
}

/** Edits the buf.validate rules of one of the message's fields. */
export function editFieldRules(fieldName: string, edit: (rules: FieldRules) => void): (message: DescriptorProto) => void {
  return (message) => {
    const options = message.field.find((candidate) => candidate.name === fieldName)?.options;
    if (options === undefined) {
      throw new Error(`${message.name}.${fieldName} has no rules to edit`);
    }
    const rules = getExtension(options, fieldRulesExtension);
    edit(rules);
    setExtension(options, fieldRulesExtension, rules);
  };
}

/** Edits the message's own (CEL) rules. */
export function editMessageRules(edit: (rules: MessageRules) => void): (message: DescriptorProto) => void {
  return (message) => {
    const options = message.options;
    if (options === undefined) {
      throw new Error(`${message.name} has no message rules to edit`);
    }
    const rules = getExtension(options, messageRulesExtension);
    edit(rules);
    setExtension(options, messageRulesExtension, rules);
  };
}

/** The message-level (CEL) rule `id` as the schema's descriptor declares it. */
export function declaredMessageRule(schema: DescMessage, id: string): MessageRules["cel"][number] {
  const options = schema.proto.options;
  const rule = options === undefined ? undefined : getExtension(options, messageRulesExtension).cel.find((candidate) => candidate.id === id);
  if (rule === undefined) {
    throw new Error(`${schema.typeName} declares no rule ${id}`);
  }
  return rule;
}
