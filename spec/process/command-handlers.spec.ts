import { expect } from 'chai';
import { Command, CommandHandler } from '../../lib/decorators';
import { DefinitionError } from '../../lib/errors';
import { MessageRegistry } from '../../lib/messages';
import { type CommandEnvelope, defineCommandHandlers } from '../../lib/process';

@Command('Charge')
class Charge {
  constructor(readonly amount = 0) {}
}
@Command('Refund')
class Refund {}
class NotACommand {}

class Payments {
  readonly charged: string[] = [];
  @CommandHandler(Charge)
  charge(command: Charge, envelope: CommandEnvelope): string {
    this.charged.push(`${envelope.commandId}:${command.amount}`);
    return 'ok';
  }
}

const envelope: CommandEnvelope = {
  commandId: 'c-1',
  type: 'Charge',
  processName: 'p',
  processId: 'o1',
  metadata: {},
};

describe('defineCommandHandlers', () => {
  describe('when services are valid', () => {
    it('maps each command type to its handler bound to the service instance', () => {
      const payments = new Payments();
      const table = defineCommandHandlers([payments], new MessageRegistry());
      expect(table.get('Charge')?.handle(new Charge(5), envelope)).to.equal('ok');
      expect(payments.charged).to.deep.equal(['c-1:5']);
      expect(table.get('Charge')?.name).to.equal('Payments.charge');
    });
  });

  describe('when services have problems', () => {
    it('throws one DefinitionError listing all of them', () => {
      class Duplicate {
        @CommandHandler(Charge)
        again(): void {}
        @CommandHandler(NotACommand)
        unknown(): void {}
      }
      class Empty {}
      void Refund;
      try {
        defineCommandHandlers([new Payments(), new Duplicate(), new Empty()], new MessageRegistry());
        expect.fail('expected a DefinitionError');
      } catch (err) {
        expect(err).to.be.instanceOf(DefinitionError);
        expect((err as DefinitionError).problems).to.deep.equal([
          'command Charge has two handlers: Payments.charge and Duplicate.again; keep one.',
          '@CommandHandler on Duplicate.unknown: NotACommand is not a registered message; decorate it with @Command.',
          'Empty has no @CommandHandler(Command) methods.',
        ]);
      }
    });
  });
});
