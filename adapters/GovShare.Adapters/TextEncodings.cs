using System.Text;

namespace GovShare.Adapters;

/// <summary>
/// Text encodings of department files: UTF-8 (with or without BOM) and GB18030, which Chinese
/// government spreadsheets often export. GB18030 comes from the code-pages provider that .NET ships.
/// </summary>
public static class TextEncodings
{
    static TextEncodings() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>UTF-8 that throws on invalid bytes, so a wrong guess is an error, not replacement characters.</summary>
    public static Encoding StrictUtf8 { get; } = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static Encoding Gb18030 => Encoding.GetEncoding("GB18030");

    /// <summary>An encoding by name: utf-8, utf-8-bom, gb18030 (gbk and gb2312 read as gb18030, their superset).</summary>
    public static Encoding Get(string name) => name.Trim().ToLowerInvariant() switch
    {
        "utf-8" or "utf8" => StrictUtf8,
        "utf-8-bom" or "utf8-bom" or "utf-8-sig" => new UTF8Encoding(encoderShouldEmitUTF8Identifier: true, throwOnInvalidBytes: true),
        "gb18030" or "gbk" or "gb2312" or "cp936" => Gb18030,
        _ => throw new ArgumentException($"'{name}' is not a supported encoding (utf-8, utf-8-bom, gb18030).", nameof(name)),
    };

    /// <summary>
    /// Detects a file's encoding: a BOM decides; otherwise the whole file is checked as UTF-8 (one
    /// streaming pass, bounded memory) and anything that is not valid UTF-8 is read as GB18030.
    /// </summary>
    public static Encoding Detect(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> bom = stackalloc byte[3];
        var read = stream.ReadAtLeast(bom, 3, throwOnEndOfStream: false);
        if (read >= 3 && bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF)
        {
            return StrictUtf8;
        }

        if (read >= 2 && ((bom[0] == 0xFF && bom[1] == 0xFE) || (bom[0] == 0xFE && bom[1] == 0xFF)))
        {
            return bom[0] == 0xFF ? Encoding.Unicode : Encoding.BigEndianUnicode;
        }

        stream.Position = 0;
        var decoder = StrictUtf8.GetDecoder();
        var bytes = new byte[64 * 1024];
        var chars = new char[StrictUtf8.GetMaxCharCount(bytes.Length)];
        try
        {
            int n;
            while ((n = stream.Read(bytes, 0, bytes.Length)) > 0)
            {
                decoder.GetChars(bytes, 0, n, chars, 0, flush: false);
            }

            decoder.GetChars([], 0, 0, chars, 0, flush: true);
            return StrictUtf8;
        }
        catch (DecoderFallbackException)
        {
            return Gb18030;
        }
    }
}
