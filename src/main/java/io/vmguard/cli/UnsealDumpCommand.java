package io.vmguard.cli;

import io.vmguard.seal.SealException;
import io.vmguard.seal.SealedDump;
import io.vmguard.seal.SealingTpm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vmguard vmi unseal-dump --seal DIR IN OUT}: opens a dump a VM under {@code --seal} wrote, for an
 * operator who holds the owner's TPM (DIR) and its authorisation value ({@code VMGUARD_SEAL_AUTH}). Local:
 * no VM or API is involved. The PCRs the key is bound to, if any, are named in the sealed file itself.
 */
@Command(name = "unseal-dump", mixinStandardHelpOptions = true,
        description = "Decrypt a sealed vmi dump (written under --seal) into a plain ELF core file, mode 0600, with the owner's "
                + "TPM in DIR and the authorisation value in " + ProtectionOptions.AUTH_VARIABLE + ".")
final class UnsealDumpCommand implements Callable<Integer> {
    @Option(names = "--seal", paramLabel = "DIR", required = true, description = "the owner's TPM that sealed the dump")
    Path seal;

    @Parameters(index = "0", paramLabel = "IN")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT")
    Path out;

    @Override
    public Integer call() throws CliException {
        if (!Files.isRegularFile(in)) {
            throw new CliException("no sealed dump at " + in);
        }
        if (!SealedDump.isSealed(in)) {
            throw new CliException(in + " is not a sealed vmguard dump");
        }
        if (!Files.isDirectory(seal)) {
            throw new CliException("no owner's TPM at " + seal + " (the --seal DIR the VM ran with)");
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent) || Files.isDirectory(out)) {
            throw new CliException("cannot write " + out + ": not a file in an existing directory");
        }
        try {
            long bytes = SealedDump.unseal(in, out, new SealingTpm(seal, ProtectionOptions.authValue()));
            System.out.println("wrote " + out.toAbsolutePath() + " (" + bytes + " bytes)");
            return 0;
        } catch (SealException e) {
            throw new CliException(e.getMessage());
        }
    }
}
