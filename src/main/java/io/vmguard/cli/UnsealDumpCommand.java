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
 * {@code vmguard vmi unseal-dump --seal DIR IN OUT} (or {@code --seal-device PATH}): opens a dump a VM under
 * {@code --seal} or {@code --seal-device} wrote, for an operator who holds that TPM and its authorisation value
 * ({@code VMGUARD_SEAL_AUTH}). Local: no VM or API is involved. The PCRs the key is bound to, if any, are named
 * in the sealed file itself.
 */
@Command(name = "unseal-dump", mixinStandardHelpOptions = true,
        description = "Decrypt a sealed vmi dump (written under --seal or --seal-device) into a plain ELF core file, mode 0600, "
                + "with the TPM that sealed it and the authorisation value in " + ProtectionOptions.AUTH_VARIABLE + ".")
final class UnsealDumpCommand implements Callable<Integer> {
    @Option(names = "--seal", paramLabel = "DIR", description = "the owner's TPM (swtpm state) that sealed the dump")
    Path seal;

    @Option(names = "--seal-device", paramLabel = "PATH", description = "the TPM device that sealed the dump (/dev/tpmrm0)")
    Path sealDevice;

    @Parameters(index = "0", paramLabel = "IN")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT")
    Path out;

    @Override
    public Integer call() throws CliException {
        if ((seal == null) == (sealDevice == null)) {
            throw new CliException("name the TPM that sealed the dump: --seal DIR or --seal-device PATH (one of them)");
        }
        if (!Files.isRegularFile(in)) {
            throw new CliException("no sealed dump at " + in);
        }
        if (!SealedDump.isSealed(in)) {
            throw new CliException(in + " is not a sealed vmguard dump");
        }
        if (seal != null && !Files.isDirectory(seal)) {
            throw new CliException("no owner's TPM at " + seal + " (the --seal DIR the VM ran with)");
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent) || Files.isDirectory(out)) {
            throw new CliException("cannot write " + out + ": not a file in an existing directory");
        }
        try {
            long bytes = SealedDump.unseal(in, out, seal != null ? new SealingTpm(seal, ProtectionOptions.authValue())
                    : SealingTpm.onDevice(sealDevice, ProtectionOptions.authValue(), 0));
            System.out.println("wrote " + out.toAbsolutePath() + " (" + bytes + " bytes)");
            return 0;
        } catch (SealException e) {
            throw new CliException(e.getMessage());
        }
    }
}
