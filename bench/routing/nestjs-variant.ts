// The peer: NestJS CQRS 11. One `@Saga` per handler, each `ofType(<its event class>)` mapped
// to a command, executed by the CommandBus on a no-op `@CommandHandler`. No HTTP: a plain
// module in `NestFactory.createApplicationContext`. Events are published a page at a time
// with `EventBus.publishAll`; a page is done when every command handler ran.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  CommandBus,
  CommandHandler,
  CqrsModule,
  EventBus,
  type ICommandHandler,
  type IEvent,
  Saga,
  ofType,
} from '@nestjs/cqrs';
import { type Observable, map } from 'rxjs';
import { runAsChild } from '../harness/child';
import { type Pipeline, type RoutedFields, makeEventClasses, runVariant, typeName } from './workload';

const counter = { handled: 0, pending: 0, pageDone: undefined as (() => void) | undefined };

class RoutedCommand {
  constructor(
    readonly type: string,
    readonly event: RoutedFields,
  ) {}
}

async function build(handlers: number): Promise<Pipeline> {
  const classes = makeEventClasses(handlers);
  const byType = new Map(classes.map((cls, i) => [typeName(i), cls]));

  // One command class and no-op handler per saga, as an application maps each event.
  const commandClasses = classes.map((_, i) => {
    const name = `${typeName(i)}Command`;
    return { [name]: class extends RoutedCommand {} }[name] as typeof RoutedCommand;
  });
  const commandHandlers = commandClasses.map((command) => {
    class NoOpHandler implements ICommandHandler<RoutedCommand> {
      async execute(c: RoutedCommand): Promise<void> {
        if (c.event.seq >= 0) counter.handled++;
        if (--counter.pending === 0) counter.pageDone?.();
      }
    }
    CommandHandler(command)(NoOpHandler);
    Injectable()(NoOpHandler);
    return NoOpHandler;
  });

  class RoutingSagas {}
  const proto = RoutingSagas.prototype as unknown as Record<string, unknown>;
  classes.forEach((cls, i) => {
    const name = `saga${i}`;
    const command = commandClasses[i] as typeof RoutedCommand;
    const type = typeName(i);
    proto[name] = (events$: Observable<IEvent>) =>
      events$.pipe(
        ofType(cls),
        map((event) => new command(type, event)),
      );
    Saga()(proto, name);
  });
  Injectable()(RoutingSagas);

  class RoutingModule {}
  Module({ imports: [CqrsModule.forRoot()], providers: [RoutingSagas, ...commandHandlers] })(RoutingModule);
  const app = await NestFactory.createApplicationContext(RoutingModule, { logger: false });
  await app.init();
  const eventBus = app.get(EventBus);
  app.get(CommandBus);

  return {
    deliver: (page) =>
      new Promise<void>((resolve) => {
        counter.pending = page.length;
        counter.pageDone = resolve;
        // The same minimal decode as the floor: the event class, fields assigned.
        const events = page.map((record) => {
          const cls = byType.get(record.type) as new () => RoutedFields;
          return Object.assign(new cls(), record.data as object);
        });
        eventBus.publishAll(events);
      }),
    handled: () => counter.handled,
    close: () => app.close(),
  };
}

runAsChild((input: Parameters<typeof runVariant>[0]) => runVariant(input, (i) => build(i.handlers)));
