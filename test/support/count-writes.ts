import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

const WRITES = new Set(['PutItemCommand', 'BatchWriteItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/** Whether a DynamoDB command (by the SDK's command name) is a write. */
export const isWriteCommand = (commandName: string): boolean => WRITES.has(commandName);

/**
 * Counts the write requests a DynamoDB client sends (PutItem, BatchWriteItem, UpdateItem,
 * DeleteItem), by SDK middleware: what DynamoDB bills as requests and throttles, whatever the
 * code above it does. The document client shares its client's middleware stack.
 */
export function countWrites(client: DynamoDBClient): { readonly byCommand: Map<string, number>; total(): number; reset(): void; remove(): void } {
  const byCommand = new Map<string, number>();
  const name = `count-writes-${Math.random().toString(36).slice(2)}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      if (isWriteCommand(command)) byCommand.set(command, (byCommand.get(command) ?? 0) + 1);
      return next(args);
    },
    { step: 'finalizeRequest', name },
  );
  return {
    byCommand,
    total: () => [...byCommand.values()].reduce((a, b) => a + b, 0),
    reset: () => byCommand.clear(),
    remove: () => void client.middlewareStack.remove(name),
  };
}

/**
 * The item of a BatchWriteItem put as a middleware sees it, as an object: a stage's write-out sends
 * its items already marshalled (`{S: …}`, the store's `StagedChanges.marshalled`), other writes go
 * through the document client, which marshals them after the middleware at `initialize`.
 */
export function putItem(item: Record<string, unknown>): Record<string, unknown> {
  const pk = item['pk'];
  return typeof pk === 'object' && pk !== null ? unmarshall(item as Record<string, AttributeValue>) : item;
}
