"""Credit moves as single conditional UPDATEs, never read-modify-write: the database decides,
so concurrent requests (threads, processes, API servers) can neither overspend nor mint."""
from sqlalchemy import update

from .models import Project, Token


def spend(session, token_row, amount):
    """Take ``amount`` bytes from the token if it has them; True when taken."""
    taken = session.execute(
        update(Token).where(Token.id == token_row.id, Token.credit >= amount)
        .values(credit=Token.credit - amount).execution_options(synchronize_session=False))
    session.expire(token_row, ["credit"])  # read the new value from the database
    return taken.rowcount == 1


def refund(session, token_row, amount):
    session.execute(update(Token).where(Token.id == token_row.id)
                    .values(credit=Token.credit + amount).execution_options(synchronize_session=False))
    session.expire(token_row, ["credit"])


def claim_charge(session, project, charged, new_charge=0, status=None):
    """Move the project's recorded charge from ``charged`` (what this request read) to
    ``new_charge``, only if nobody changed it meanwhile (and, given ``status``, the project is
    still in it); True when this request won. Only the winner settles the difference with the
    token, so a charge is refunded or topped up exactly once."""
    where = [Project.id == project.id, Project.charged == charged]
    if status is not None:
        where.append(Project.status == status)
    won = session.execute(update(Project).where(*where).values(charged=new_charge)
                          .execution_options(synchronize_session=False))
    session.expire(project, ["charged"])
    return won.rowcount == 1
