using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Web.Infrastructure;

/// <summary>
/// Encrypts the data-protection key ring at rest (the keys that sign cookies and antiforgery tokens, kept in the
/// tenant database so replicas share them) with AES-256-GCM under a key derived from <c>DATA_PROTECTION_KEY</c>, a
/// secret only this tenant's web app holds: a copy of the database alone (a backup, the workers' access to it) then
/// cannot forge its sessions. The tenant's application name is bound into every ciphertext, so a key row copied into
/// another tenant's database does not decrypt there. Without the setting the keys are stored as the framework writes
/// them, and it says so at start ("No XML encryptor configured").
/// </summary>
/// <remarks>
/// Changing <c>DATA_PROTECTION_KEY</c> makes the stored keys unreadable: the key ring then creates a new key and
/// everyone signs in again. Keys written before the setting existed stay readable (they are not encrypted).
/// </remarks>
internal static class KeyRingEncryption
{
    public const string SettingName = "DATA_PROTECTION_KEY";

    public static IDataProtectionBuilder ProtectKeysWithConfiguredSecret(this IDataProtectionBuilder builder, IConfiguration configuration, string applicationName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var secret = configuration[SettingName];
        if (string.IsNullOrWhiteSpace(secret))
        {
            return builder;
        }
        var key = new KeyRingKey(secret, applicationName);
        builder.Services.AddSingleton(key);
        builder.Services.Configure<KeyManagementOptions>(options => options.XmlEncryptor = new KeyRingEncryptor(key));
        return builder;
    }
}

/// <summary>The AES key and associated data of one tenant's key ring.</summary>
internal sealed class KeyRingKey
{
    private const int MinimumSecretLength = 32;

    public KeyRingKey(string secret, string applicationName)
    {
        if (secret.Length < MinimumSecretLength)
        {
            throw new InvalidOperationException(
                $"{KeyRingEncryption.SettingName} must be at least {MinimumSecretLength} characters (it has {secret.Length}): it encrypts the web app's data-protection keys.");
        }
        Key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), 32, salt: [], info: Encoding.UTF8.GetBytes("web data-protection key ring v1"));
        AssociatedData = Encoding.UTF8.GetBytes(applicationName);
    }

    public byte[] Key { get; }

    public byte[] AssociatedData { get; }
}

internal sealed class KeyRingEncryptor(KeyRingKey key) : IXmlEncryptor
{
    internal const string ElementName = "aesGcmEncryptedKey";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var sealedBox = new byte[AesGcm.NonceByteSizes.MaxSize + plaintext.Length + AesGcm.TagByteSizes.MaxSize];
        var nonce = sealedBox.AsSpan(0, AesGcm.NonceByteSizes.MaxSize);
        var ciphertext = sealedBox.AsSpan(nonce.Length, plaintext.Length);
        var tag = sealedBox.AsSpan(nonce.Length + plaintext.Length);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(key.Key, tag.Length))
        {
            aes.Encrypt(nonce, plaintext, ciphertext, tag, key.AssociatedData);
        }
        var element = new XElement(ElementName,
            new XComment(" This key is encrypted with AES-256-GCM under a key derived from DATA_PROTECTION_KEY. "),
            new XElement("value", Convert.ToBase64String(sealedBox)));
        return new EncryptedXmlInfo(element, typeof(KeyRingDecryptor));
    }
}

/// <summary>Created by the data-protection system (through its service provider) for each encrypted key it reads.</summary>
internal sealed class KeyRingDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        var key = services.GetService<KeyRingKey>()
            ?? throw new InvalidOperationException($"A data-protection key is encrypted, but {KeyRingEncryption.SettingName} is not set.");
        var sealedBox = Convert.FromBase64String((string?)encryptedElement.Element("value")
            ?? throw new FormatException($"An encrypted data-protection key has no value element."));
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        if (sealedBox.Length < nonceSize + tagSize)
        {
            throw new FormatException("An encrypted data-protection key is too short.");
        }
        var plaintext = new byte[sealedBox.Length - nonceSize - tagSize];
        using (var aes = new AesGcm(key.Key, tagSize))
        {
            aes.Decrypt(sealedBox.AsSpan(0, nonceSize), sealedBox.AsSpan(nonceSize, plaintext.Length), sealedBox.AsSpan(nonceSize + plaintext.Length), plaintext, key.AssociatedData);
        }
        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
