namespace GovShare.Contract;

/// <summary>How a push relates to the resource's previous version: the <c>mode</c> query value of a push (<c>replace</c>, the default, or <c>append</c>).</summary>
public enum PushMode
{
    /// <summary>The pushed rows are the whole new version.</summary>
    Replace,

    /// <summary>The new version is the previous version's rows followed by the pushed rows.</summary>
    Append,
}
